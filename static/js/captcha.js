// The image captcha (rule A5): one picture per attempt; click to get a new one.
import { api } from './api.js';

export class CaptchaField {
  constructor(img, input) {
    this.img = img;
    this.input = input;
    this.id = null;
    img.addEventListener('click', () => this.refresh());
  }

  async refresh() {
    this.input.value = '';  // cleared first, so nothing typed while the picture loads is lost
    const data = await api('GET', '/api/auth/captcha');
    this.id = data.captcha_id;
    this.img.src = data.image;
  }

  // The fields the server expects; the captcha is spent once sent, so fetch the next one.
  take() {
    const fields = { captcha_id: this.id, captcha: this.input.value.trim() };
    this.refresh();
    return fields;
  }
}
