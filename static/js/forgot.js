// Forgot password (rule A3): prove the phone by SMS code, set a new password.
import { api } from './api.js';
import { CaptchaField } from './captcha.js';
import { byTestId, setError } from './dom.js';
import { smsButton } from './smscode.js';
import { t } from './i18n.js';

const form = byTestId('forgot-form');
const error = byTestId('forgot-error');
const sent = byTestId('forgot-code-sent');
const captcha = new CaptchaField(byTestId('captcha-image'), byTestId('forgot-captcha'));
captcha.refresh();

const sms = smsButton({
  button: byTestId('forgot-send-code'),
  captcha,
  phoneInput: form.phone,
  purpose: 'reset',
  onSent: (text) => { setError(error, ''); sent.textContent = text; sent.hidden = false; },
  onError: (text) => setError(error, text),
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  setError(error, '');
  if (!sms.id()) return setError(error, t('register.s15'));
  if (form.password.value !== form.password2.value) return setError(error, t('register.s14'));
  try {
    await api('POST', '/api/auth/reset', {
      phone: form.phone.value.trim(), sms_id: sms.id(),
      code: form.code.value.trim(), password: form.password.value,
    });
    byTestId('forgot-done').hidden = false;
    byTestId('forgot-submit').disabled = true;
  } catch (e) {
    setError(error, e.message);
  }
});
