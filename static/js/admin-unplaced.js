// Approved candidates in no class yet (issue #14): the administrator finds
// them here (search by username, name or phone) and enrols many at once,
// instead of typing exact usernames one by one.
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { t } from './i18n.js';

const list = byTestId('unplaced-list');
const classSelect = byTestId('unplaced-class');
const status = byTestId('unplaced-status');
const error = byTestId('unplaced-error');

function when(iso) { return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—'; }

async function loadClasses() {
  const { classes } = await api('GET', '/api/admin/classes');
  classSelect.replaceChildren(el('option', { value: '' }, t('admin_unplaced.s1')),
    ...classes.map((c) => el('option', { value: String(c.id) }, c.name)));
}

async function loadUnplaced() {
  setError(error, '');
  const q = byTestId('unplaced-search').value.trim();
  const data = await api('GET', `/api/admin/candidates/unplaced?q=${encodeURIComponent(q)}`);
  list.tBodies[0].replaceChildren(...data.candidates.map((c) => el('tr', { testid: `unplaced-row-${c.username}` },
    el('td', {}, el('input', { type: 'checkbox', value: String(c.id), 'aria-label': t('admin_unplaced.s2', { v: c.real_name || c.username }),
      testid: `unplaced-pick-${c.username}` })),
    el('td', {}, c.real_name || '—'), el('td', {}, c.username), el('td', {}, c.category || '—'),
    el('td', {}, when(c.approved_at)))));
  byTestId('unplaced-empty').hidden = data.candidates.length > 0;
  status.textContent = data.candidates.length >= data.limit
    ? t('admin_unplaced.s3', { limit: data.limit }) : t('admin_unplaced.s4', { length: data.candidates.length });
}

byTestId('unplaced-search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadUnplaced().catch((e) => setError(error, e.message));
});
byTestId('unplaced-all').addEventListener('change', (event) => {
  for (const box of list.querySelectorAll('tbody input[type=checkbox]')) {
    /** @type {HTMLInputElement} */ (box).checked = /** @type {HTMLInputElement} */ (event.target).checked;
  }
});
byTestId('unplaced-enrol').addEventListener('click', async () => {
  setError(error, '');
  const ids = [...list.querySelectorAll('tbody input:checked')]
    .map((box) => Number(/** @type {HTMLInputElement} */ (box).value));
  if (!classSelect.value) return setError(error, t('admin_unplaced.s5'));
  if (!ids.length) return setError(error, t('admin_unplaced.s6'));
  try {
    const done = await api('POST', `/api/admin/classes/${classSelect.value}/members/bulk`, { user_ids: ids });
    await loadUnplaced();
    status.textContent = t('admin_unplaced.s7', { length: done.added.length, v: classSelect.selectedOptions[0].textContent })
      + (done.skipped ? t('admin_unplaced.s8', { skipped: done.skipped }) : '');
  } catch (e) {
    setError(error, e.message);
  }
});

signedIn().then(() => Promise.all([loadClasses(), loadUnplaced()])).catch((e) => setError(error, e.message));
