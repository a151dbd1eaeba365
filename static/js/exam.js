// Answering a paper (rules C4, E4, E7).
//
// Every change is saved at once with PUT /api/attempts/{id}/answers/{qid}.
// Each question's answer carries a revision number that only grows, so a late
// retry never overwrites a newer answer on the server. Unsent answers are
// also kept in localStorage: a reload or a dropped network loses none, they
// are sent again when the page is back. The remaining time comes from the
// server's deadline and clock (rule E4), never from the browser's clock alone.
import { api, ApiError } from './api.js';
import { el } from './dom.js';
import { renderEndCard } from './exam-end.js';
import { tx } from './exam-text.js';

const LETTERS = 'ABCDEFGH';
const RETRY_MAX_MS = 10000;

function pad(n) { return String(n).padStart(2, '0'); }

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  return h ? `${h}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}` : `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}

export class ExamPage {
  constructor(root, attemptId) {
    this.root = root;
    this.attemptId = attemptId;
    this.storeKey = `proctor.exam.${attemptId}.pending`;
    this.answers = new Map();   // question id → answer as last chosen
    this.revs = new Map();      // question id → last revision used
    this.pending = new Map();   // question id → {answer, rev} not yet acknowledged
    this.sending = false;
    this.retryMs = 1000;
    this.ended = false;
    this.clockOffsetMs = 0;
    this.deadline = 0;
    this.timer = null;
    this.blocked = null;        // why answering is paused (rule D1), or null
    this.endReason = null;      // the end's reason code once it is known
    this.endView = null;        // the server's end (score, outcome) once read
    this.$ = (id) => root.querySelector(`#${id}`);
  }

  // For the camera/hub modules (rule D1: both cameras live before answering):
  // block(reason) pauses answering with a visible reason; block(null) resumes.
  block(reason) {
    this.blocked = reason || null;
    const box = this.$('exam-blocked');
    box.textContent = this.blocked || '';
    box.hidden = !this.blocked || this.ended;  // the end card says why, once
    for (const input of this.root.querySelectorAll('#exam-questions input')) {
      input.disabled = this.ended || Boolean(this.blocked);
    }
    // Answers the server refused while a camera was down go out once both are back.
    if (!this.blocked && this.pending.size && !this.ended) this.flush();
  }

  async load() {
    const view = await api('GET', `/api/attempts/${this.attemptId}`);
    this.clockOffsetMs = Date.parse(view.server_now) - Date.now();
    this.deadline = Date.parse(view.deadline_at);
    this.view = view;
    for (const [qid, saved] of Object.entries(view.answers)) {
      this.answers.set(Number(qid), saved.answer);
      this.revs.set(Number(qid), saved.rev);
    }
    this.restorePending();
    this.render();
    this.waitForStart();
    if (view.status === 'ended') {
      this.showEnded(view.end);
    } else {
      this.startTimer();
      this.flush();
    }
  }

  // rule M1: in the identity-check window before the sitting's start the
  // paper is not shown yet; it comes at the start, by the server's clock.
  waitForStart() {
    const opens = this.view.opens_at && Date.parse(this.view.opens_at);
    if (!opens || this.view.status !== 'in_progress') return;
    const at = new Date(opens).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, hour: '2-digit', minute: '2-digit' });
    this.$('exam-questions').replaceChildren(el('p', { class: 'notice', testid: 'exam-waiting' },
      tx('exam.waiting', { at })));
    const wait = opens - (Date.now() + this.clockOffsetMs) + 500;
    setTimeout(async () => {
      try {
        this.view = await api('GET', `/api/attempts/${this.attemptId}`);
      } catch { /* tried again below */ }
      this.render();
      this.waitForStart();
    }, Math.max(wait, 1000));
  }

  // rule M2: the hub's deadline is the server's; extra time moves it at once
  followDeadline(deadlineS, serverTimeS) {
    if (!deadlineS || this.ended) return;
    if (serverTimeS) this.clockOffsetMs = serverTimeS * 1000 - Date.now();
    if (deadlineS * 1000 === this.deadline) return;
    this.deadline = deadlineS * 1000;
    clearInterval(this.timer);
    this.startTimer();
  }

  // Answers chosen but not acknowledged before a reload: newer than the server's copy.
  restorePending() {
    let stored = {};
    try { stored = JSON.parse(localStorage.getItem(this.storeKey) || '{}'); } catch { stored = {}; }
    for (const [qid, item] of Object.entries(stored)) {
      const id = Number(qid);
      if (item.rev > (this.revs.get(id) ?? 0)) {
        this.answers.set(id, item.answer);
        this.revs.set(id, item.rev);
        this.pending.set(id, item);
      }
    }
  }

  persistPending() {
    const obj = Object.fromEntries(this.pending);
    if (this.pending.size) localStorage.setItem(this.storeKey, JSON.stringify(obj));
    else localStorage.removeItem(this.storeKey);
  }

  render() {
    const { view } = this;
    this.$('exam-title').textContent = tx('exam.title.paper', { kind: view.paper.kind_label, title: view.paper.title });
    const form = this.$('exam-questions');
    form.onsubmit = (event) => event.preventDefault();  // answers save on change, never by a form post
    form.replaceChildren(...view.questions.map((q) => this.renderQuestion(q)));
    this.block(this.blocked);
    const submit = this.$('exam-submit');
    submit.disabled = view.status !== 'in_progress';
    submit.onclick = () => this.askSubmit();
    this.$('exam-submit-cancel').onclick = () => { this.$('exam-confirm').hidden = true; };
    this.$('exam-submit-confirm').onclick = () => this.submit();
    this.updateProgress();
  }

  renderQuestion(q) {
    const chosen = this.answers.get(q.id);
    const type = q.kind === 'multiple' ? 'checkbox' : 'radio';
    const name = `q${q.id}`;
    const choices = q.kind === 'truefalse'
      ? [[true, tx('admin.s120')], [false, tx('admin.s121')]]
      : q.options.map((text, i) => [LETTERS[i], `${LETTERS[i]}. ${text}`]);
    const inputs = choices.map(([value, label]) => {
      const checked = q.kind === 'multiple' ? Array.isArray(chosen) && chosen.includes(value) : chosen === value;
      const input = el('input', {
        type, name, value: String(value), checked,
        testid: `q${q.position}-opt-${String(value).toLowerCase()}`,
      });
      input.addEventListener('change', () => this.onChange(q, formValue(q, input.form, name)));
      return el('label', {}, input, el('span', {}, label));
    });
    return el('section', { class: 'question', testid: `question-${q.position}`, 'data-question-id': q.id },
      el('p', { class: 'stem' }, tx('exam.stem', { position: q.position, kind: q.kind_label, points: q.points }), q.stem),
      ...inputs);
  }

  onChange(q, answer) {
    if (this.ended || this.blocked) return;
    const rev = (this.revs.get(q.id) ?? 0) + 1;
    this.revs.set(q.id, rev);
    this.answers.set(q.id, answer);
    this.pending.set(q.id, { answer, rev });
    this.persistPending();
    this.updateProgress();
    this.flush();
  }

  updateProgress() {
    const total = this.view.questions.length;
    const done = this.view.questions.filter((q) => answered(this.answers.get(q.id))).length;
    this.$('exam-progress').textContent = tx('exam.progress', { done, total });
    const state = this.$('save-state');
    state.classList.remove('failed');
    if (this.ended) state.textContent = '';
    else if (this.pending.size === 0) state.textContent = tx('exam.save.saved');
    else state.textContent = tx('exam.save.saving', { n: this.pending.size });
    state.dataset.pending = String(this.pending.size);
  }

  // Send every unacknowledged answer, one at a time; on a network error retry
  // with a growing pause. Resolves when nothing is pending (or the exam ended).
  async flush() {
    if (this.sending) return this.sendingDone;
    this.sending = true;
    /** @type {(value?: unknown) => void} */
    let release = () => {};
    this.sendingDone = new Promise((resolve) => { release = resolve; });
    try {
      while (this.pending.size && !this.ended) {
        const [qid, item] = this.pending.entries().next().value;
        try {
          await api('PUT', `/api/attempts/${this.attemptId}/answers/${qid}`, item);
          if (this.pending.get(qid)?.rev === item.rev) this.pending.delete(qid);
          this.persistPending();
          this.retryMs = 1000;
          this.updateProgress();
        } catch (err) {
          if (err instanceof ApiError && err.code === 'cameras_not_live') {
            // rule D1 on the server: the answer stays here and goes out when unblocked
            this.$('save-state').textContent = tx('exam.save.held', { n: this.pending.size });
            break;
          }
          if (err instanceof ApiError && err.status === 409) { await this.refresh(); break; }
          if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
            this.pending.delete(qid);   // refused for good (e.g. not in this paper): say so
            this.persistPending();
            this.showError(err.message);
            continue;
          }
          const state = this.$('save-state');
          const why = tx(err instanceof ApiError && err.code === 'service_unavailable' ? 'exam.save.unavailable' : 'exam.save.network');
          state.textContent = tx('exam.save.retry', { why, s: Math.round(this.retryMs / 1000) });
          state.classList.add('failed');
          await new Promise((r) => setTimeout(r, this.retryMs));
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        }
      }
    } finally {
      this.sending = false;
      release();
    }
  }

  startTimer() {
    const tick = () => {
      const left = (this.deadline - (Date.now() + this.clockOffsetMs)) / 1000;
      this.$('exam-timer').textContent = clock(left);
      if (left <= 0) {
        clearInterval(this.timer);
        this.$('save-state').textContent = tx('exam.time_up');
        setTimeout(() => this.refresh(), 1000);   // the server ends it (rule E4)
      }
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  askSubmit() {
    const total = this.view.questions.length;
    const left = this.view.questions.filter((q) => !answered(this.answers.get(q.id))).length;
    this.$('exam-confirm-text').textContent = left
      ? tx('exam.confirm.left', { left, total })
      : tx('exam.confirm.all');
    this.$('exam-confirm').hidden = false;
  }

  async submit() {
    const button = this.$('exam-submit-confirm');
    button.disabled = true;
    try {
      await this.flush();   // every chosen answer reaches the server before the end
      if (this.pending.size) {
        // never end the attempt with a chosen answer the server has not stored (rule E7)
        throw new Error(tx('exam.submit.unsaved', { n: this.pending.size }));
      }
      const end = await api('POST', `/api/attempts/${this.attemptId}/submit`);
      this.showEnded(end);
    } catch (err) {
      this.showError(err.message);
      button.disabled = false;
    }
  }

  // Re-read the attempt (after a 409, the time limit, or the hub's "ended").
  async refresh() {
    const view = await api('GET', `/api/attempts/${this.attemptId}`);
    if (view.status === 'ended') this.showEnded(view.end);
  }

  // The end is known (the hub's "ended", a submit, a re-read): answering
  // stops, every banner of the running exam goes, the one end card shows
  // why; the score follows once the server has it (showEnded).
  showEnding(reason) {
    const first = !this.ended;
    this.ended = true;
    this.endReason = this.endReason || reason;
    clearInterval(this.timer);
    this.pending.clear();
    this.persistPending();
    this.$('exam-timer-label').textContent = tx('exam.end.title');
    this.$('exam-timer').hidden = true;
    this.$('exam-submit').disabled = true;
    this.$('exam-submit').hidden = true;
    for (const id of ['exam-confirm', 'exam-blocked', 'violation-banner', 'exam-extra-time', 'camera-prompt',
      'net-state', 'conn-state', 'exam-error', 'violation-count', 'exam-devices', 'identity-check', 'contact']) {
      this.$(id).hidden = true;
    }
    for (const input of this.root.querySelectorAll('#exam-questions input')) input.disabled = true;
    this.updateProgress();
    if (first) {
      renderEndCard(this.$('exam-result'), this.endReason, null);
      this.showCard();
      this.root.dispatchEvent(new CustomEvent('exam-ended', { detail: { end_reason: this.endReason } }));
    }
  }

  showEnded(end) {
    this.showEnding(end.end_reason);
    if (this.endView) return;
    this.endView = end;
    renderEndCard(this.$('exam-result'), this.endReason || end.end_reason, end);
    this.showCard();
  }

  showCard() {
    const card = this.$('exam-result');
    window.scrollTo(0, 0);
    card.focus({ preventScroll: true });
  }

  showError(message) {
    const box = this.$('exam-error');
    box.textContent = message;
    box.hidden = !message;
  }
}

function answered(value) {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

function formValue(q, form, name) {
  const checked = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  if (q.kind === 'multiple') return checked.length ? checked.sort() : null;
  if (q.kind === 'truefalse') return checked.length ? checked[0] === 'true' : null;
  return checked[0] ?? null;
}
