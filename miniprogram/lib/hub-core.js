// GENERATED from static/js/hub-core.js by scripts/miniprogram-core.mjs — do not edit;
// edit the core and run `node scripts/miniprogram-core.mjs`.
'use strict';

// The client core of the hub's websocket protocol v1 (docs/protocol.md), with
// no browser or WeChat API in it: the web pages (static/js/hub.js,
// static/js/phone.js) and the WeChat mini-program (miniprogram/, a CommonJS
// copy of this file made by scripts/miniprogram-core.mjs and checked by
// tests/js/core-copy.test.js) drive it through a small adapter:
//
//   socket:  open(url, { onOpen(), onMessage(data), onClose(code, reason) })
//            → { send(stringOrArrayBuffer), close(code, reason) }
//   storage: { load(key) → string | null, save(key, string), remove(key) }
//   timers:  { setTimeout, clearTimeout, setInterval, clearInterval }
//   camera:  { ready() → bool, takePhoto() → Promise<ArrayBuffer | null> }
//   renewToken: async () → { token, ws_phone_url } | null
//
// HubConnection is the protocol (hello, seq numbers kept across reconnects,
// the outbox of unacknowledged messages, resume from welcome.last_acked, the
// binary photo frame); PhoneSession is the phone's part of it (rules D4–D6,
// E2, H1, H2, H9, H10): the start photo, page returns, capture answers,
// camera announcements, the end, token renewal.

const PROTOCOL_VERSION = 1;
const HEARTBEAT_MS = 5000;         // the hub closes a socket idle for 45 s
const MAX_PHOTO_BYTES = 2 * 1024 * 1024;  // the hub's cap on one JPEG
const TOKEN_REFRESH_MS = 120000;   // well inside PROCTOR_DEVICE_TOKEN_TTL
const MAX_OUTBOX = 500;
const WINDOW = 32;            // unacknowledged messages on the wire at most (the hub rate-limits bursts)
const MAX_PENDING_CAPTURES = 8;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;

// Close codes after which reconnecting with the same token cannot help.
const CLOSE_BAD_TOKEN = 4401;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_REPLACED = 4409;
const CLOSE_ENDED = 4410;

const defaultTimers = {
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (t) => clearTimeout(t),
  setInterval: (f, ms) => setInterval(f, ms),
  clearInterval: (t) => clearInterval(t),
};

const memoryStorage = () => {
  const items = new Map();
  return {
    load: (key) => (items.has(key) ? items.get(key) : null),
    save: (key, value) => { items.set(key, value); },
    remove: (key) => { items.delete(key); },
  };
};

// The phone's photo as the hub expects it: 'PH', seq (uint32 big endian), the
// capture request id (uint32 big endian), then the JPEG.
function encodePhotoFrame(seq, requestId, jpeg) {
  const bytes = new Uint8Array(jpeg);
  const frame = new Uint8Array(10 + bytes.length);
  frame[0] = 0x50;  // 'P'
  frame[1] = 0x48;  // 'H'
  const header = new DataView(frame.buffer);
  header.setUint32(2, seq);
  header.setUint32(6, requestId);
  frame.set(bytes, 10);
  return frame;
}

// The parts of a photo frame (for tests and logs).
function decodePhotoFrame(frame) {
  const bytes = new Uint8Array(frame);
  const header = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    magic: String.fromCharCode(bytes[0], bytes[1]),
    seq: header.getUint32(2),
    requestId: header.getUint32(6),
    jpeg: bytes.slice(10),
  };
}

// The part of a websocket close reason before ':' ("token_expired: …").
function closeCode(reason) {
  const text = String(reason || '');
  const colon = text.indexOf(':');
  return colon > 0 ? text.slice(0, colon) : text;
}

class HubConnection {
  // options: url (ws_pc_url / ws_phone_url), socket, storage, timers, key (the
  // storage key), endsOnEnded (the PC stops at `ended`; the phone goes on
  // until its own phone_end, rule D5), and handlers onMessage(msg),
  // onStatus('connecting'|'connected'|'offline'|'ended', closeCode, reason),
  // onAck(seq).
  constructor(options) {
    this.url = options.url;
    this.socket = options.socket;
    this.storage = options.storage || memoryStorage();
    this.timers = options.timers || defaultTimers;
    this.key = options.key || 'hub-outbox:' + String(options.url.split('token=')[1] || '').slice(0, 40);
    this.endsOnEnded = options.endsOnEnded !== false;
    this.handlers = options.handlers || {};
    let saved = { seq: 0, outbox: [] };
    try { saved = JSON.parse(this.storage.load(this.key) || '') || saved; } catch { /* none yet */ }
    this.seq = saved.seq || 0;          // the last number given to a message
    this.outbox = saved.outbox || [];   // sent or not, not yet acknowledged
    this.sentUpTo = 0;                  // highest seq sent on this connection
    this.lastSeen = 0;                  // last server message number (n) seen
    this.conn = null;
    this.welcomed = false;
    this.ended = false;                 // no more messages to send
    this.stopped = false;
    this.backoff = BACKOFF_MIN_MS;
    this.heartbeat = null;
    this.retry = null;
  }

  // the platform's socket object, where the adapter exposes it (tests close it
  // to simulate a dropped network)
  get ws() { return this.conn ? this.conn.ws : null; }

  start() {
    this.connect();
    this.heartbeat = this.timers.setInterval(() => this.send('heartbeat'), HEARTBEAT_MS);
  }

  stop() {
    this.stopped = true;
    this.ended = true;
    this.timers.clearInterval(this.heartbeat);
    this.timers.clearTimeout(this.retry);
    if (this.conn) this.conn.close(1000, 'bye');
  }

  // Queue a message; it goes out now if welcomed, else after the next welcome.
  send(type, fields = {}) {
    if (this.ended) return 0;
    if (type === 'heartbeat' && !this.welcomed) return 0;  // nothing to resend later
    const message = { type, seq: ++this.seq, ...fields };
    this.queue(message);
    return message.seq;
  }

  // A photo answering capture request `requestId` (rules D4, E2), numbered
  // with the other messages so that a resume sends it again in order.
  sendPhoto(requestId, jpeg) {
    if (this.ended) return 0;
    const seq = ++this.seq;
    this.queue({ type: 'photo', seq, request_id: requestId, frame: encodePhotoFrame(seq, requestId, jpeg) });
    return seq;
  }

  queue(message) {
    this.outbox.push(message);
    if (this.outbox.length > MAX_OUTBOX) this.outbox.shift();
    this.save();
    this.flush();
  }

  // Send what is queued, in order, at most WINDOW ahead of the acks.
  flush() {
    if (!this.welcomed || !this.conn) return;
    const first = this.outbox.length ? this.outbox[0].seq : 0;
    for (const m of this.outbox) {
      if (m.seq <= this.sentUpTo) continue;
      if (m.seq - first >= WINDOW) break;
      this.conn.send(m.frame ? m.frame.buffer : JSON.stringify(m));
      this.sentUpTo = m.seq;
    }
  }

  save() {
    // Photos are kept in memory only (a JPEG is too big for the storage); a
    // restarted client renumbers what is left after the welcome, so the
    // numbering the hub expects has no gap, and the hub asks again for the
    // photos it still lacks.
    const outbox = this.outbox.filter((m) => !m.frame);
    this.storage.save(this.key, JSON.stringify({ seq: this.seq, outbox }));
  }

  forget() { this.storage.remove(this.key); }

  status(s, code, reason) { this.handlers.onStatus?.(s, code, reason); }

  connect() {
    if (this.stopped) return;
    this.timers.clearTimeout(this.retry);
    this.status('connecting');
    this.welcomed = false;
    const conn = this.socket.open(this.url, {
      onOpen: () => {
        conn.send(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION, last_seen: this.lastSeen, resume: this.seq > 0 }));
      },
      onMessage: (data) => {
        if (this.conn !== conn || typeof data !== 'string') return;
        let msg;
        try { msg = JSON.parse(data); } catch { return; }
        this.receive(msg);
      },
      onClose: (code, reason) => {
        if (this.conn !== conn) return;
        this.onClose(code, reason);
      },
    });
    this.conn = conn;
  }

  onClose(code, reason) {
    this.welcomed = false;
    this.conn = null;
    // 4410: the attempt has ended and this device has nothing left to do
    // (the phone is kept open after the end until its own phone_end, rule D5)
    if (this.stopped || code === CLOSE_ENDED) {
      this.ended = true;
      this.status('ended', code, reason);
      return;
    }
    this.status('offline', code, reason);
    // a bad token, a token for another device or a newer connection: the
    // shell decides (renew the token, or say so); retrying the same cannot help
    if (code === CLOSE_BAD_TOKEN || code === CLOSE_FORBIDDEN || code === CLOSE_REPLACED) return;
    this.retry = this.timers.setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
  }

  // Resume (rule H1): the hub stored everything up to last_acked; whatever is
  // left was not stored, so it is numbered again from last_acked + 1 — this
  // closes the gaps refused messages leave (their seq is not stored) and lets
  // a client that lost its storage go on where the hub is, instead of
  // resending old numbers the hub would take as duplicates.
  onWelcome(msg) {
    const acked = msg.last_acked;
    this.outbox = this.outbox.filter((m) => m.seq > acked);
    let seq = acked;
    for (const m of this.outbox) {
      seq += 1;
      if (m.seq === seq) continue;
      m.seq = seq;
      if (m.frame) new DataView(m.frame.buffer).setUint32(2, seq);
    }
    this.seq = seq;
    this.sentUpTo = acked;
    this.welcomed = true;
    this.backoff = BACKOFF_MIN_MS;
    this.save();
    this.flush();
    this.status('connected');
  }

  receive(msg) {
    if (typeof msg.n === 'number') this.lastSeen = msg.n;
    if (msg.type === 'welcome') {
      this.onWelcome(msg);
    } else if (msg.type === 'ack' || (msg.type === 'error' && typeof msg.seq === 'number')) {
      // an error naming a seq: that message must not be sent again
      this.outbox = this.outbox.filter((m) => m.seq > msg.seq);
      this.save();
      this.flush();
      if (msg.type === 'ack') this.handlers.onAck?.(msg.seq);
    } else if (msg.type === 'ended' && this.endsOnEnded) {
      this.ended = true;
    }
    this.handlers.onMessage?.(msg);
  }
}

// The phone's part (rules D4–D6, E2, H1, H2, H9, H10). The shell tells it what
// the candidate and the platform do (start, hidden, shown, camera lost/back,
// end) and shows what `onChange(view)` reports; everything the hub must hear
// goes through the HubConnection.
class PhoneSession {
  // options: url, socket, storage, timers, camera, renewToken, key, and
  // handlers onChange(view), onConfirm(message), onWarning(text), onNotice(text), onExpired(),
  // onMessage(msg) (every server message, after the session's own handling).
  constructor(options) {
    this.camera = options.camera;
    this.renewToken = options.renewToken || (async () => null);
    this.timers = options.timers || defaultTimers;
    this.storage = options.storage || memoryStorage();
    this.handlers = options.handlers || {};
    this.startedKey = (options.key || 'phone') + ':started';
    this.started = this.storage.load(this.startedKey) === '1';
    this.visible = true;
    this.pcEnded = false;
    this.finished = false;
    this.endSeq = 0;
    this.pending = [];          // capture request ids waiting for a photo
    this.answered = [];         // request ids already answered (a resent request is not answered twice)
    this.taking = false;
    this.photos = 0;
    this.hubStatus = 'connecting';
    this.pc = null;             // the PC as the last state message told
    this.hub = new HubConnection({
      url: options.url,
      socket: options.socket,
      storage: this.storage,
      timers: this.timers,
      key: options.key,
      endsOnEnded: false,       // rule D5: the phone ends its part itself
      handlers: {
        onMessage: (msg) => this.onMessage(msg),
        onStatus: (status, code, reason) => this.onStatus(status, code, reason),
        onAck: (seq) => { if (seq === this.endSeq) this.finish(); },
      },
    });
    this.refresh = null;
  }

  view() {
    return {
      started: this.started,
      visible: this.visible,
      pcEnded: this.pcEnded,
      finished: this.finished,
      hub: this.hubStatus,
      photos: this.photos,
      pc: this.pc,
      pending: this.pending.length,
    };
  }

  changed() { this.handlers.onChange?.(this.view()); }

  // rule D6: either device may come first; a phone that had started (a
  // restart of the page or the mini-program during the exam) carries on.
  run() {
    this.hub.start();
    this.refresh = this.timers.setInterval(() => { this.renew(); }, TOKEN_REFRESH_MS);
    this.changed();
  }

  // "开始考试" (rule D4): the hub answers with a capture request — a photo at once.
  start() {
    if (this.started || this.finished || !this.camera.ready()) return false;
    this.started = true;
    this.storage.save(this.startedKey, '1');
    this.hub.send('phone_start');
    this.hub.send('camera', { state: 'live' });  // a hint only (rule H9): the photo makes it live
    this.changed();
    return true;
  }

  // The page or the mini-program went to the background (rule H2: asleep, not a violation).
  hidden() {
    this.visible = false;
    if (this.started && !this.finished && !this.pcEnded) this.hub.send('camera', { state: 'asleep' });
    this.changed();
  }

  // Back on the exam page (rule D4): every return takes a photo.
  shown() {
    const wasHidden = !this.visible;
    this.visible = true;
    if (wasHidden) this.rejoin();
    else this.changed();
  }

  // One tap to rejoin (rule H2), and the return after a hide: camera live, a photo.
  rejoin() {
    if (!this.started || this.finished || !this.camera.ready()) { this.changed(); return false; }
    // page_return alone: its capture's photo is what makes the camera live
    // again (rule H9); a `live` hint as well would only ask for a second photo
    if (!this.pcEnded) this.hub.send('page_return');
    this.answerPending();
    this.changed();
    return true;
  }

  // The camera stopped (taken by another app, or the system): lost (rule H2).
  cameraLost() {
    if (this.started && !this.finished) this.hub.send('camera', { state: 'lost' });
    this.changed();
  }

  // The camera is ready again (opened, flipped): answer what waits.
  cameraReady() {
    this.answerPending();
    this.changed();
  }

  // The candidate asks to end (rule D5): after the PC's end at once; before
  // it the shell asks to confirm (returns 'confirm'), then calls end(true).
  requestEnd() {
    if (this.finished) return 'finished';
    if (this.pcEnded) { this.end(false); return 'sent'; }
    return 'confirm';
  }

  // An unconfirmed phone_end before the PC's end is answered by `confirm`
  // (and acknowledged without ending); only a confirmed one, or one after the
  // PC's end, ends the phone's part once acknowledged.
  end(confirmed) {
    if (this.finished) return;
    const seq = this.hub.send('phone_end', { confirmed: Boolean(confirmed) });
    if (confirmed || this.pcEnded) this.endSeq = seq;
  }

  // The page goes away (the shell's unload): no socket, no token renewal;
  // the exam's state stays stored for the next visit.
  stop() {
    this.timers.clearInterval(this.refresh);
    this.hub.stop();
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    this.storage.remove(this.startedKey);
    this.timers.clearInterval(this.refresh);
    this.hub.stop();
    this.hub.forget();
    this.changed();
  }

  async renew() {
    if (this.finished || this.pcEnded) return false;
    let fresh = null;
    try { fresh = await this.renewToken(); } catch { fresh = null; }
    if (!fresh || !fresh.ws_phone_url) return false;
    this.hub.url = fresh.ws_phone_url;
    return true;
  }

  async onStatus(status, code, reason) {
    this.hubStatus = status;
    if (this.finished) return;
    if (status === 'ended') { this.finish(); return; }
    const photoQueued = this.hub.outbox.some((m) => m.type === 'page_return' || m.type === 'phone_start');
    if (status === 'connected' && this.started && !this.pcEnded && this.visible && this.camera.ready() && !photoQueued) {
      // rule H1/H2: the hub lowered the camera when the socket dropped; announce
      // it again (a hint: the hub asks for a photo if none is pending, rule H9)
      this.hub.send('camera', { state: 'live' });
    }
    this.changed();
    if (status === 'offline' && code === CLOSE_BAD_TOKEN) {
      if (await this.renew()) this.hub.connect();
      else this.handlers.onExpired?.(closeCode(reason));
    }
  }

  onMessage(msg) {
    if (msg.type === 'capture') this.onCapture(msg.request_id);
    else if (msg.type === 'state') this.onState(msg);
    else if (msg.type === 'ended') this.onEnded(msg);
    else if (msg.type === 'confirm' && msg.action === 'phone_end') this.handlers.onConfirm?.(msg.message);
    else if (msg.type === 'warning') this.handlers.onWarning?.(msg.message);
    else if (msg.type === 'extra_time') this.handlers.onNotice?.(msg.message);  // rule M2
    else if (msg.type === 'error' && this.endSeq && msg.seq === this.endSeq) {
      if (msg.code === 'phone_finished') this.finish();
    }
    this.handlers.onMessage?.(msg);  // the shell's own parts (contact, rule L1)
  }

  onState(msg) {
    const pc = msg.devices && msg.devices.pc;
    this.pc = {
      status: msg.status,
      connected: Boolean(pc && pc.connected),
      violations: msg.violations,
      max: msg.max_violations,
    };
    if (msg.status === 'ended') this.pcEnded = true;
    if (msg.phone_finished && !this.finished) { this.finish(); return; }
    this.changed();
  }

  // rule D5: the PC has ended; the phone ends its part when the candidate
  // taps "结束考试" — and until then answers the captures asked before the end (rule H10).
  onEnded(msg) {
    this.pcEnded = true;
    this.endMessage = msg.message;
    this.changed();
  }

  onCapture(requestId) {
    if (this.finished) return;
    if (this.pending.includes(requestId) || this.answered.includes(requestId)) return;
    this.pending.push(requestId);
    if (this.pending.length > MAX_PENDING_CAPTURES) this.pending.shift();
    this.answerPending();
  }

  async answerPending() {
    if (this.taking || this.finished) return;
    this.taking = true;
    try {
      while (this.pending.length && this.camera.ready() && this.visible && !this.finished) {
        const requestId = this.pending[0];
        let jpeg = null;
        try { jpeg = await this.camera.takePhoto(); } catch { jpeg = null; }
        if (!jpeg || jpeg.byteLength > MAX_PHOTO_BYTES) break;  // try again on the next ready/return
        this.pending.shift();
        if (this.finished) break;
        this.hub.sendPhoto(requestId, jpeg);
        this.answered.push(requestId);
        if (this.answered.length > 64) this.answered.shift();
        this.photos += 1;
        this.changed();
      }
    } finally {
      this.taking = false;
    }
  }
}

module.exports = { PROTOCOL_VERSION, HEARTBEAT_MS, MAX_PHOTO_BYTES, TOKEN_REFRESH_MS, CLOSE_BAD_TOKEN, CLOSE_FORBIDDEN, CLOSE_REPLACED, CLOSE_ENDED, encodePhotoFrame, decodePhotoFrame, closeCode, HubConnection, PhoneSession };
