// The face check before answering (rule I2), a step of the PC exam page after
// the device check: the candidate faces the camera and asks for a try; the
// server takes the frame from the camera's own stream (the page sends no
// picture and no verdict) and compares it with the ID photo. Three failed
// tries and the attempt waits for an invigilator, who admits or refuses.
import { api } from './api.js';
import { el } from './dom.js';
import { tx } from './exam-text.js';

const POLL_MS = 1000;
const WAIT_POLL_MS = 3000;  // while an invigilator decides

export const IDENTITY_TEXT = {
  blocked: tx('exam.identity.blocked'),
  waiting: tx('exam.identity.waiting'),
  refused: tx('exam.identity.refused'),
  trying: tx('exam.identity.trying'),
};

export class IdentityCheck {
  constructor(attemptId, box, onChange) {
    this.attemptId = attemptId;
    this.box = box;
    this.onChange = onChange;
    this.state = null;  // the server's view of the check
    this.timer = null;
    this.stopped = false;
  }

  get required() { return Boolean(this.state && this.state.required); }
  get cleared() { return !this.required || Boolean(this.state && this.state.cleared); }

  // Why answering waits for the check; null when it does not.
  blockText() {
    if (this.cleared) return null;
    if (this.state.state === 'waiting') return IDENTITY_TEXT.waiting;
    if (this.state.state === 'refused') return IDENTITY_TEXT.refused;
    return IDENTITY_TEXT.blocked;
  }

  async start() {
    await this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.box.hidden = true;
  }

  async refresh() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    try {
      this.state = await api('GET', `/api/attempts/${this.attemptId}/identity`);
    } catch (err) {
      this.timer = setTimeout(() => this.refresh(), WAIT_POLL_MS);
      return;
    }
    this.render();
    this.onChange();
    const pending = this.state.tries.some((t) => t.outcome === null);
    if (pending) this.timer = setTimeout(() => this.refresh(), POLL_MS);
    else if (this.state.state === 'waiting') this.timer = setTimeout(() => this.refresh(), WAIT_POLL_MS);
  }

  async tryOnce(button) {
    button.disabled = true;
    try {
      this.state = { ...this.state, ...(await api('POST', `/api/attempts/${this.attemptId}/identity/try`)) };
    } catch (err) {
      this.showResult(err.message, 'failed');
    }
    await this.refresh();
  }

  showResult(text, state) {
    const result = this.box.querySelector('[data-testid="identity-result"]');
    if (result) { result.textContent = text; result.dataset.state = state; }
  }

  render() {
    const s = this.state;
    const last = s.tries.length ? s.tries[s.tries.length - 1] : null;
    if (!s.required || s.cleared) {
      // the outcome stays in view, small: the paper is open below it
      this.box.replaceChildren(
        el('p', { class: 'status', testid: 'identity-state', 'data-state': s.state }, s.message),
        el('p', { testid: 'identity-result', 'data-state': last ? last.outcome : '' }, last ? last.message : ''));
      this.box.hidden = !s.required;
      return;
    }
    const pending = last && last.outcome === null;
    const button = el('button', { type: 'button', testid: 'identity-try', disabled: !s.may_try,
      onclick: () => this.tryOnce(button) }, s.failed ? tx('exam.identity.again') : tx('exam.identity.start'));
    const left = Math.max(0, s.max_tries - s.failed);
    this.box.replaceChildren(
      el('h2', {}, tx('attempt_timeline.identity')),
      el('p', { class: 'meta' }, tx('exam.identity.prompt')),
      el('p', { class: 'lock-reason', testid: 'identity-state', 'data-state': s.state }, s.message),
      el('p', { testid: 'identity-result', 'data-state': pending ? 'pending' : (last ? last.outcome : '') },
        pending ? IDENTITY_TEXT.trying : (last ? last.message : '')),
      el('p', { class: 'meta', testid: 'identity-tries-left' },
        s.state === 'checking' ? tx('exam.identity.tries_left', { left, max: s.max_tries }) : ''),
      s.state === 'checking' ? button : el('span'));
    this.box.hidden = false;
  }
}
