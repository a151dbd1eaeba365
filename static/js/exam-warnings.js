// An invigilator's warning on the PC exam page (rule H4, issue #14): a modal
// that stays until the candidate presses 我知道了; the acknowledgement goes to
// the hub as `warning_ack` (docs/protocol.md), which records it on the
// attempt's timeline. The hub sends every open warning again after a
// reconnect, so a reload never loses one; the ids acknowledged here are kept
// in localStorage so that a warning resent while its ack is still on the way
// is not shown twice.
import { tx } from './exam-text.js';

export class WarningModal {
  /** @param {HTMLDialogElement} dialog @param {{ send: (type: string, fields?: object) => number }} hub @param {number} attemptId */
  constructor(dialog, hub, attemptId) {
    this.dialog = dialog;
    this.hub = hub;
    this.key = `proctor.exam.${attemptId}.warnings-acked`;
    this.queue = [];   // warnings waiting, oldest first; the first is on screen
    this.stopped = false;
    this.$ = (id) => /** @type {HTMLElement} */ (dialog.querySelector(`#${id}`));
    this.$('warning-title').textContent = tx('exam.warning.title');
    this.$('warning-ack').textContent = tx('exam.warning.ack');
    this.$('warning-ack').addEventListener('click', () => this.acknowledge());
    // Esc must not dismiss it unacknowledged
    dialog.addEventListener('cancel', (event) => event.preventDefault());
  }

  acked() {
    try { return new Set(JSON.parse(localStorage.getItem(this.key) || '[]')); } catch { return new Set(); }
  }

  /** A `warning` message from the hub. */
  show(msg) {
    if (this.stopped) return;
    const id = Number(msg.id);
    if (id && (this.acked().has(id) || this.queue.some((w) => w.id === id))) return;
    this.queue.push({ id, message: msg.message });
    this.render();
  }

  render() {
    const [first] = this.queue;
    if (!first || this.stopped) {
      if (this.dialog.open) this.dialog.close();
      return;
    }
    this.$('exam-warning').textContent = tx('exam.warning.text', { message: first.message });
    const more = this.$('warning-more');
    more.textContent = tx('exam.warning.more', { n: this.queue.length - 1 });
    more.hidden = this.queue.length < 2;
    if (!this.dialog.open) this.dialog.showModal();
    this.$('warning-ack').focus();
  }

  acknowledge() {
    const first = this.queue.shift();
    if (first && first.id) {
      const acked = [...this.acked(), first.id].slice(-50);
      localStorage.setItem(this.key, JSON.stringify(acked));
      this.hub.send('warning_ack', { id: first.id });
    }
    this.render();
  }

  /** The exam ended: nothing left to acknowledge on this page. */
  stop() {
    this.stopped = true;
    this.queue = [];
    if (this.dialog.open) this.dialog.close();
  }
}
