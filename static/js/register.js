// Register (rule A2): account fields + phone proven by SMS code → signed in, to the home page.
import { api } from './api.js';
import { CaptchaField } from './captcha.js';
import { byTestId, setError } from './dom.js';
import { smsButton } from './smscode.js';
import { t } from './i18n.js';

const form = byTestId('register-form');
const error = byTestId('register-error');
const sent = byTestId('reg-code-sent');
const captcha = new CaptchaField(byTestId('captcha-image'), byTestId('reg-captcha'));
captcha.refresh();

const sms = smsButton({
  button: byTestId('reg-send-code'),
  captcha,
  phoneInput: form.phone,
  purpose: 'register',
  onSent: (text) => { setError(error, ''); sent.textContent = text; sent.hidden = false; },
  onError: (text) => setError(error, text),
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  setError(error, '');
  if (form.password.value !== form.password2.value) return setError(error, t('register.s14'));
  if (!sms.id()) return setError(error, t('register.s15'));
  const body = {
    username: form.username.value.trim(),
    password: form.password.value,
    real_name: form.real_name.value.trim(),
    id_card: form.id_card.value.trim(),
    phone: form.phone.value.trim(),
    sms_id: sms.id(),
    code: form.code.value.trim(),
  };
  try {
    const data = await api('POST', '/api/auth/register', body);
    location.href = data.home;
  } catch (e) {
    setError(error, e.message);
  }
});
