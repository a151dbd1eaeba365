// The hub's websocket client (protocol v1, docs/protocol.md): hello, numbered
// messages acknowledged by the hub, resume after a drop (unacknowledged
// messages are sent again; the hub drops duplicates), heartbeats every 5 s.
// Usable by the PC page and the phone page alike.

const HEARTBEAT_MS = 5000;
const MAX_OUTBOX = 500;
const WINDOW = 32;  // unacknowledged messages on the wire at most (the hub rate-limits bursts)

export class HubSocket {
  // url: ws_pc_url / ws_phone_url from POST /api/attempts.
  // handlers: { onMessage(msg), onStatus('connecting'|'connected'|'offline'|'ended'), onAck(seq) }
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;
    this.key = 'hub-outbox:' + url.split('token=')[1]?.slice(0, 40);
    const saved = JSON.parse(sessionStorage.getItem(this.key) || '{"seq":0,"outbox":[]}');
    this.seq = saved.seq;           // last number given to a message
    this.outbox = saved.outbox;     // sent or not, not yet acknowledged
    this.sentUpTo = 0;              // highest seq sent on this connection
    this.lastSeen = 0;              // last server message number seen on this connection
    this.ws = null;
    this.welcomed = false;
    this.ended = false;
    this.backoff = 500;
    this.timer = null;
  }

  start() {
    this.connect();
    this.timer = setInterval(() => this.send('heartbeat'), HEARTBEAT_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.ended = true;
    if (this.ws) this.ws.close(1000, 'bye');
  }

  // Queue a message; it is sent now if connected, else after the next welcome.
  send(type, fields = {}) {
    if (this.ended) return;
    if (type === 'heartbeat' && !this.welcomed) return;  // nothing to resend later
    const message = { type, seq: ++this.seq, ...fields };
    this.outbox.push(message);
    if (this.outbox.length > MAX_OUTBOX) this.outbox.shift();
    this.save();
    this.flush();
  }

  // Send what is queued, in order, at most WINDOW ahead of the acks.
  flush() {
    if (!this.welcomed) return;
    for (const m of this.outbox) {
      if (m.seq <= this.sentUpTo) continue;
      if (m.seq - (this.outbox[0]?.seq ?? m.seq) >= WINDOW) break;
      this.ws.send(m.frame || JSON.stringify(m));
      this.sentUpTo = m.seq;
    }
  }

  // A photo answering capture request `requestId` (the phone, rules D4/E2): a
  // binary frame 'PH', seq, request id (uint32 big-endian), then the JPEG,
  // numbered with the other messages so that a resume re-sends it in order.
  sendPhoto(requestId, jpeg) {
    if (this.ended) return;
    const seq = ++this.seq;
    const bytes = new Uint8Array(jpeg);
    const frame = new Uint8Array(10 + bytes.length);
    frame.set([0x50, 0x48]);  // 'PH'
    const header = new DataView(frame.buffer);
    header.setUint32(2, seq);
    header.setUint32(6, requestId);
    frame.set(bytes, 10);
    this.outbox.push({ type: 'photo', seq, request_id: requestId, frame });
    if (this.outbox.length > MAX_OUTBOX) this.outbox.shift();
    this.save();
    this.flush();
  }

  save() {
    // Photos are kept in memory only; after a reload their numbers go out as
    // heartbeats, so the numbering the hub expects has no gap.
    const outbox = this.outbox.map((m) => (m.frame ? { type: 'heartbeat', seq: m.seq } : m));
    sessionStorage.setItem(this.key, JSON.stringify({ seq: this.seq, outbox }));
  }

  // code: the websocket close code with 'offline' (4401: the token expired).
  status(s, code) { this.handlers.onStatus?.(s, code); }

  connect() {
    this.status('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.welcomed = false;
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ type: 'hello', v: 1, last_seen: this.lastSeen, resume: this.seq > 0 }));
    });
    ws.addEventListener('message', (event) => this.receive(JSON.parse(event.data)));
    ws.addEventListener('close', (event) => {
      this.welcomed = false;
      if (event.code === 4410 || this.ended) { this.ended = true; this.status('ended'); return; }
      if (event.code === 4401 || event.code === 4403 || event.code === 4409) { this.status('offline', event.code); return; }
      this.status('offline', event.code);
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    });
  }

  receive(msg) {
    if (typeof msg.n === 'number') this.lastSeen = msg.n;
    if (msg.type === 'welcome') {
      this.welcomed = true;
      this.backoff = 500;
      // rule H1: resume exactly — drop what the hub stored, resend the rest in order
      this.outbox = this.outbox.filter((m) => m.seq > msg.last_acked);
      if (this.seq < msg.last_acked) this.seq = msg.last_acked;
      this.sentUpTo = msg.last_acked;
      this.save();
      this.flush();
      this.status('connected');
    } else if (msg.type === 'ack' || (msg.type === 'error' && typeof msg.seq === 'number')) {
      this.outbox = this.outbox.filter((m) => m.seq > msg.seq);
      this.save();
      this.flush();
      if (msg.type === 'ack') this.handlers.onAck?.(msg.seq);
    } else if (msg.type === 'ended') {
      this.ended = true;
    }
    this.handlers.onMessage?.(msg);
  }
}

// Rules E3/H3 on the PC: report leaving the page (blur, visibilitychange,
// pagehide — the hub counts one switch once) and clicks outside the paper.
export function watchFocus(hub, paper) {
  window.addEventListener('blur', () => hub.send('focus', { state: 'lost', cause: 'blur' }));
  window.addEventListener('focus', () => hub.send('focus', { state: 'back' }));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') hub.send('focus', { state: 'lost', cause: 'visibility' });
    else hub.send('focus', { state: 'back' });
  });
  window.addEventListener('pagehide', () => hub.send('focus', { state: 'lost', cause: 'pagehide' }));
  if (paper) {
    document.addEventListener('mousedown', (event) => {
      if (!paper.contains(event.target)) hub.send('click_outside');
    });
  }
}
