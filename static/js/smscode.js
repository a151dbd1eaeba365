// "获取验证码" with the image captcha in front of it, and the 60-second resend countdown.
import { api } from './api.js';

export function smsButton({ button, captcha, phoneInput, purpose, onSent, onError }) {
  let smsId = null;
  let timer = null;
  button.addEventListener('click', async () => {
    const phone = phoneInput.value.trim();
    if (!/^1[3-9]\d{9}$/.test(phone)) return onError('请输入正确的11位手机号码');
    if (!captcha.input.value.trim()) return onError('请先输入图形验证码');
    button.disabled = true;
    try {
      const data = await api('POST', '/api/auth/sms', { purpose, phone, ...captcha.take() });
      smsId = data.sms_id;
      onSent(`验证码已发送至 ${data.phone_masked}，5分钟内有效。`);
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
    button.textContent = `${left}秒后重发`;
    timer = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        button.textContent = '重新获取';
      } else {
        button.textContent = `${left}秒后重发`;
      }
    }, 1000);
  }
  return { id: () => smsId };
}
