// Two-way contact with the invigilators (rule L1) on the candidate's PC page
// and phone page, over the hub socket (docs/protocol.md "Contact"):
//
// - ContactInbox is the protocol's part, without DOM: it keeps the messages by
//   their per-attempt index (a repeat — a live message that also comes in the
//   reconnect's batch — is dropped, never shown twice), and acknowledges with
//   `seen` the highest index it holds with nothing missing below, so the hub
//   sends exactly what is missing after a reconnect;
// - mountContact is the panel: the conversation, "呼叫监考员", a text box.
//
// The hub connection is the page's HubConnection (hub-core.js): messages are
// numbered and resent after a drop like every other; each carries a client id
// (cid) so that a resend is stored once.
import { el } from './dom.js';
import { tx } from './exam-text.js';

export const MAX_TEXT = 500;

const TEXT = {
  title: tx('exam.contact.title'),
  call: tx('exam.contact.call'),
  calling: tx('exam.contact.calling'),
  send: tx('invigilator.reply-send'),
  placeholder: tx('exam.contact.placeholder'),
  empty: tx('exam.contact.empty'),
  from: { candidate: tx('exam.contact.from_me'), invigilator: tx('attempt_timeline.s3') },
  room: tx('wall_contact.room'),
  errors: {
    rate_limited: tx('exam.contact.rate_limited'),
    ended: tx('exam.contact.ended'),
    bad_field: tx('exam.contact.bad_field'),
  },
  failed: tx('exam.contact.failed'),
  newMessage: tx('exam.contact.newMessage'),
};

function clientId() {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class ContactInbox {
  // hub: the HubConnection (send(type, fields) → seq); onChange(inbox) after each change.
  /** @param {any} hub @param {(inbox: ContactInbox) => void} onChange */
  constructor(hub, onChange = (_inbox) => {}) {
    this.hub = hub;
    this.onChange = onChange;
    this.disable = () => {};  // the panel's controls off (mountContact)
    this.items = new Map();   // index → message
    this.base = null;         // every index up to this one is held (known after the first batch)
    this.acked = 0;
    this.sent = new Set();    // seqs of our say/call, to explain an error naming one
    this.error = '';
  }

  // A server message; true when it was contact's.
  receive(msg) {
    if (msg.type === 'messages') {
      this.base = Math.max(this.base ?? 0, msg.after);
      for (const item of msg.items) this.add(item);
    } else if (msg.type === 'message') {
      this.add(msg);
    } else if (msg.type === 'error' && this.sent.has(msg.seq)) {
      this.error = TEXT.errors[msg.code] || TEXT.failed;
    } else if (msg.type === 'ack' && this.sent.has(msg.seq)) {
      this.error = '';
    } else {
      return false;
    }
    this.advance();
    this.onChange(this);
    return true;
  }

  add(item) {
    if (!this.items.has(item.index)) this.items.set(item.index, item);
  }

  advance() {
    if (this.base === null) return;
    while (this.items.has(this.base + 1)) this.base += 1;
    if (this.base > this.acked) {
      this.acked = this.base;
      this.hub.send('seen', { upto: this.base });
    }
  }

  list() { return [...this.items.values()].sort((a, b) => a.index - b.index); }

  // The hand is up from our last call until an invigilator's own reply or "answered".
  handRaised() {
    let raised = false;
    for (const m of this.list()) {
      if (m.from === 'candidate' && m.kind === 'call') raised = true;
      else if (m.from === 'invigilator' && m.scope === 'attempt') raised = false;
    }
    return raised;
  }

  say(text) {
    const body = String(text || '').trim();
    if (!body || body.length > MAX_TEXT) return 0;
    return this.track(this.hub.send('say', { cid: clientId(), text: body }));
  }

  call() { return this.track(this.hub.send('call', { cid: clientId() })); }

  track(seq) {
    if (seq) this.sent.add(seq);
    return seq;
  }
}

// The panel in `root` (a <section>); returns the inbox for the page's onMessage.
export function mountContact(root, hub) {
  const list = el('ol', { class: 'contact-messages', testid: 'contact-messages' });
  const hand = el('p', { class: 'contact-hand', testid: 'contact-hand', role: 'status', hidden: true }, TEXT.calling);
  const note = el('p', { class: 'contact-note', testid: 'contact-note', role: 'alert', hidden: true });
  const input = el('input', { type: 'text', maxlength: MAX_TEXT, placeholder: TEXT.placeholder, testid: 'contact-input', 'aria-label': TEXT.placeholder });
  const callButton = el('button', { type: 'button', class: 'contact-call', testid: 'contact-call' }, TEXT.call);
  const sendButton = el('button', { type: 'submit', testid: 'contact-send' }, TEXT.send);
  const form = el('form', { class: 'contact-form' }, input, sendButton);
  let shown = 0;
  const render = (inbox) => {
    const items = inbox.list();
    list.replaceChildren(...(items.length ? items.map((m) => el('li', {
      testid: 'contact-message', 'data-from': m.from, 'data-kind': m.kind, 'data-index': m.index,
    }, el('b', {}, TEXT.from[m.from] + (m.scope === 'room' ? TEXT.room : '') + tx('exam.colon')), m.text)) : [el('li', { class: 'meta' }, TEXT.empty)]));
    list.scrollTop = list.scrollHeight;
    hand.hidden = !inbox.handRaised();
    note.textContent = inbox.error;
    note.hidden = !inbox.error;
    const fromStaff = items.filter((m) => m.from === 'invigilator').length;
    if (fromStaff > shown) root.dataset.unread = 'true';  // highlighted until the panel is used
    shown = fromStaff;
  };
  const inbox = new ContactInbox(hub, render);
  callButton.addEventListener('click', () => { inbox.call(); delete root.dataset.unread; });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (inbox.say(input.value)) input.value = '';
    delete root.dataset.unread;
  });
  root.replaceChildren(el('h2', {}, TEXT.title), list, hand, note, el('div', { class: 'contact-actions' }, callButton), form);
  root.hidden = false;
  render(inbox);
  inbox.disable = () => {
    for (const node of [input, callButton, sendButton]) node.disabled = true;
  };
  return inbox;
}
