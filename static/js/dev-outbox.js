// The SMS outbox (rule A4): what the outbox sender "sent". Administrators only:
// whoever reads it can pass any login's SMS step, so the page needs an admin session.
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { t } from './i18n.js';
import { signedIn } from './page-session.js';

const PURPOSES = { login: t('login.submit'), register: t('register.register-submit'), reset: t('forgot.s3') };
const phone = byTestId('outbox-phone');
let timer = null;

async function load() {
  setError(byTestId('outbox-error'), '');
  try {
    const query = phone.value.trim() ? `?phone=${encodeURIComponent(phone.value.trim())}` : '';
    const data = await api('GET', `/api/dev/sms-outbox${query}`);
    byTestId('outbox').tBodies[0].replaceChildren(...data.messages.map((m) => el('tr', { testid: 'outbox-row' },
      el('td', {}, new Date(m.sent_at).toLocaleString('zh-CN', { hour12: false })),
      el('td', {}, m.phone), el('td', {}, PURPOSES[m.purpose] || m.purpose),
      el('td', { testid: 'outbox-body' }, m.body))));
  } catch (e) {
    if ([401, 403, 404].includes(e.status)) clearInterval(timer);  // polling cannot help
    setError(byTestId('outbox-error'), e.message);
  }
}

async function start() {
  const user = await signedIn();  // to the login page (and back) without a session
  if (user.role !== 'admin') {
    setError(byTestId('outbox-error'), t('outbox.admin_only'));
    return;
  }
  byTestId('outbox-refresh').addEventListener('click', load);
  phone.addEventListener('change', load);
  timer = setInterval(load, 3000);
  load();
}

start();
