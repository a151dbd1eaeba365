// Login (rule A1): username + password + captcha → SMS code → the exam system home.
import { api } from './api.js';
import { CaptchaField } from './captcha.js';
import { browserProblem, byTestId, setError } from './dom.js';
import { safeNext } from './safe-next.js';
import { t } from './i18n.js';

const problem = browserProblem();  // rule A6: before login
if (problem) {
  const warning = byTestId('browser-warning');
  warning.textContent = problem;
  warning.hidden = false;
  byTestId('login-box').hidden = true;
} else {
  start();
}

function start() {
  const loginForm = byTestId('login-form');
  const codeForm = byTestId('code-form');
  const captcha = new CaptchaField(byTestId('captcha-image'), byTestId('login-captcha'));
  captcha.refresh();
  let challenge = null;

  loginForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const error = byTestId('login-error');
    setError(error, '');
    const username = loginForm.username.value.trim();
    const password = loginForm.password.value;
    if (!username || !password) return setError(error, t('login.s12'));
    if (!loginForm.captcha.value.trim()) return setError(error, t('login.s13'));
    const button = byTestId('login-submit');
    button.disabled = true;
    try {
      const data = await api('POST', '/api/auth/login', { username, password, ...captcha.take() });
      challenge = data.challenge_id;
      byTestId('code-sent').textContent = t('login.s14', { phone_masked: data.phone_masked });
      loginForm.hidden = true;
      codeForm.hidden = false;
      byTestId('login-code').focus();
    } catch (e) {
      setError(error, e.message);
    } finally {
      button.disabled = false;
    }
  });

  codeForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const error = byTestId('code-error');
    setError(error, '');
    const code = codeForm.code.value.trim();
    if (!/^\d{6}$/.test(code)) return setError(error, t('login.s15'));
    try {
      const data = await api('POST', '/api/auth/login/verify', { challenge_id: challenge, code });
      location.href = nextPage() || data.home;
    } catch (e) {
      setError(error, e.message);
    }
  });
}

// Where to go after signing in: a path of this site from ?next=, else the role's home.
function nextPage() {
  return safeNext(new URLSearchParams(location.search).get('next'), location.origin);
}
