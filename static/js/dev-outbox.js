// Development SMS outbox (rule A4): what the outbox sender "sent".
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';

const PURPOSES = { login: '登录', register: '注册', reset: '找回密码' };
const phone = byTestId('outbox-phone');

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
    setError(byTestId('outbox-error'), e.message);
  }
}

byTestId('outbox-refresh').addEventListener('click', load);
phone.addEventListener('change', load);
setInterval(load, 3000);
load();
