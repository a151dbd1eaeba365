// "获取验证码" with the image captcha in front of it, and the 60-second resend countdown.
import { api } from './api.js';
import { t } from './i18n.js';

export function smsButton({ button, captcha, phoneInput, purpose, onSent, onError }) {
  let smsId = null;
  let timer = null;
  button.addEventListener('click', async () => {
    const phone = phoneInput.value.trim();
    if (!/^1[3-9]\d{9}$/.test(phone)) return onError(t('smscode.s1'));
    if (!captcha.input.value.trim()) return onError(t('smscode.s2'));
    button.disabled = true;
    try {
      const data = await api('POST', '/api/auth/sms', { purpose, phone, ...captcha.take() });
      smsId = data.sms_id;
      onSent(t('smscode.s3', { phone_masked: data.phone_masked }));
      countdown(data.resend_in || 1);
    } catch (e) {
      onError(e.message);
      // refused as too frequent: wait as long as the server says, counting down
      if (e.code === 'rate_limited' && e.retryAfterS) countdown(e.retryAfterS);
      else button.disabled = false;
    }
  });

  function countdown(seconds) {
    clearInterval(timer);
    let left = seconds;
    button.textContent = t('smscode.s4', { left });
    timer = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        button.textContent = t('smscode.s5');
      } else {
        button.textContent = t('smscode.s4', { left });
      }
    }, 1000);
  }
  return { id: () => smsId };
}
