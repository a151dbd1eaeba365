// Home (rules B1, B6, C1): request status, the rejected banner, the wizard modal,
// and the paper center (filled by the papers module).
import { api } from './api.js';
import { byTestId } from './dom.js';
import { t } from './i18n.js';
import { signedIn } from './page-session.js';
import { mountPapers } from './papers.js';
import { openWizard } from './wizard.js';

const HINTS = {
  none: t('home.none'),
  pending: t('home.ding'),
  approved: t('home.oved'),
  rejected: t('home.cted'),
};

async function refresh({ autoOpen }) {
  const data = await api('GET', '/api/requests/mine');
  const status = data.status;
  const statusNode = byTestId('request-status');
  statusNode.textContent = t(`request.status.${status}`);
  statusNode.className = `status-${status}`;
  statusNode.dataset.status = status;
  byTestId('request-hint').textContent = HINTS[status];
  const banner = byTestId('rejected-banner');
  banner.hidden = status !== 'rejected';
  if (status === 'rejected') byTestId('rejected-reason').textContent = data.request.reason || '';
  const canSubmit = status === 'none' || status === 'rejected';
  byTestId('open-wizard').hidden = !canSubmit;
  byTestId('open-wizard').textContent = status === 'rejected' ? t('home.rejected-resubmit') : t('home.open-wizard');
  await mountPapers(byTestId('papers'));
  const wantResubmit = new URLSearchParams(location.search).get('resubmit') === '1';
  // rule B1: the wizard opens by itself until a request is pending or approved
  if (autoOpen && (status === 'none' || (status === 'rejected' && wantResubmit))) start(data);
  return data;
}

function start(data) {
  openWizard(byTestId('wizard'), data, () => refresh({ autoOpen: false }));
}

const user = await signedIn();
const STAFF_HOME = { reviewer: '/static/reviewer.html', admin: '/static/admin.html', invigilator: '/static/invigilator.html' };
if (STAFF_HOME[user.role]) location.replace(STAFF_HOME[user.role]);
let current = await refresh({ autoOpen: true });
const reopen = async () => { current = await api('GET', '/api/requests/mine'); start(current); };
byTestId('open-wizard').addEventListener('click', reopen);
byTestId('rejected-resubmit').addEventListener('click', reopen);
