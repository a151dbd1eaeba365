// The candidate's contact inbox (static/js/contact.js, rule L1), without DOM
// or server: messages kept by index, a repeat dropped, `seen` only up to the
// first gap, the hand up from a call until the invigilator's own reply.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const load = () => import(path.join(__dirname, '../../static/js/contact.js'));

class RecordingHub {
  constructor() { this.sent = []; this.seq = 0; }
  send(type, fields = {}) { this.seq += 1; this.sent.push({ type, seq: this.seq, ...fields }); return this.seq; }
  seen() { return this.sent.filter((m) => m.type === 'seen').map((m) => m.upto); }
}

const message = (index, from = 'invigilator', extra = {}) => ({
  type: 'message', index, from, kind: 'text', scope: 'attempt', device: null, text: `m${index}`, at: index, ...extra,
});

test('a repeat is shown once and seen waits for the gap to close', async () => {
  const { ContactInbox } = await load();
  const hub = new RecordingHub();
  const inbox = new ContactInbox(hub);
  inbox.receive(message(3));  // live, before the batch: the base is not known yet
  assert.deepEqual(hub.seen(), []);
  inbox.receive({ type: 'messages', after: 1, items: [message(3)], more: false });  // 2 is on its way
  assert.deepEqual(hub.seen(), [1]);
  assert.deepEqual(inbox.list().map((m) => m.index), [3]);
  inbox.receive(message(2));
  assert.deepEqual(hub.seen(), [1, 3]);
  inbox.receive(message(3));  // once more (a reconnect's batch): nothing new
  assert.deepEqual(inbox.list().map((m) => m.index), [2, 3]);
  assert.deepEqual(hub.seen(), [1, 3]);
});

test('the hand is up from a call until the invigilator answers this attempt', async () => {
  const { ContactInbox } = await load();
  const inbox = new ContactInbox(new RecordingHub());
  inbox.receive({ type: 'messages', after: 0, items: [], more: false });
  inbox.receive(message(1, 'candidate', { kind: 'call', device: 'pc' }));
  assert.equal(inbox.handRaised(), true);
  inbox.receive(message(2, 'invigilator', { scope: 'room' }));  // a room message answers nobody
  assert.equal(inbox.handRaised(), true);
  inbox.receive(message(3, 'invigilator', { kind: 'answered' }));
  assert.equal(inbox.handRaised(), false);
});

test('say and call carry a client id; blank or long text is not sent; errors are explained', async () => {
  const { ContactInbox, MAX_TEXT } = await load();
  const hub = new RecordingHub();
  const inbox = new ContactInbox(hub);
  assert.equal(inbox.say('   '), 0);
  assert.equal(inbox.say('x'.repeat(MAX_TEXT + 1)), 0);
  const seq = inbox.say('  题目看不清  ');
  const call = inbox.call();
  const [say, raised] = hub.sent;
  assert.equal(say.text, '题目看不清');
  assert.match(say.cid, /^[0-9a-f]{18}$/);
  assert.notEqual(raised.cid, say.cid);
  inbox.receive({ type: 'error', code: 'rate_limited', seq: call, reason: 'x' });
  assert.equal(inbox.error, '发送过于频繁，请稍后再试。');
  inbox.receive({ type: 'ack', seq });
  assert.equal(inbox.error, '');
  assert.equal(inbox.receive({ type: 'state' }), false);  // not contact's
});
