// The administrator's preset texts for invigilators (rule L1): one a line,
// at most 20 (PUT /api/admin/contact/presets replaces them all).
import { api } from './api.js';
import { byTestId } from './dom.js';
import { t } from './i18n.js';

const MAX_PRESETS = 20;

async function load() {
  const { presets } = await api('GET', '/api/invigilate/presets');
  byTestId('presets-text').value = presets.join('\n');
}

byTestId('presets-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = byTestId('presets-status');
  const lines = byTestId('presets-text').value.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length > MAX_PRESETS) { status.textContent = t('admin_presets.s1', { MAX_PRESETS, length: lines.length }); return; }
  try {
    const { presets } = await api('PUT', '/api/admin/contact/presets', { presets: lines });
    byTestId('presets-text').value = presets.join('\n');
    status.textContent = t('admin_presets.s2', { length: presets.length });
  } catch (err) { status.textContent = err.message; }
});

load().catch((err) => { byTestId('presets-status').textContent = err.message; });
