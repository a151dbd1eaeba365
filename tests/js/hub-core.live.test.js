// The client core (static/js/hub-core.js, as the mini-program's CommonJS copy)
// against the real hub, with the `ws` package as its socket adapter. Run by
// tests/hub/test_client_core_node.py, which starts the live server, makes the
// attempt and its tokens, and checks PostgreSQL afterwards. Environment:
// HUB_HTTP_URL, HUB_WS_URL, HUB_PC_TOKEN, HUB_PHONE_TOKEN, HUB_JPEG (a file).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const WebSocket = require('ws');
const { HubConnection, PhoneSession } = require('../../miniprogram/lib/hub-core.js');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through tests/hub/test_client_core_node.py)`);
  return value;
};
const HTTP = env('HUB_HTTP_URL');
const WS = env('HUB_WS_URL');
const JPEG = fs.readFileSync(env('HUB_JPEG'));

// The core's socket adapter over `ws`; every server message is also kept in `seen`.
function wsSocket(seen) {
  return {
    open(url, { onOpen, onMessage, onClose }) {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      ws.on('open', onOpen);
      ws.on('message', (data, binary) => {
        const text = binary ? data : data.toString();
        if (!binary) seen.push(JSON.parse(text));
        onMessage(text);
      });
      ws.on('close', (code, reason) => onClose(code, reason.toString()));
      ws.on('error', () => {});
      return {
        ws,
        send: (data) => ws.send(data),
        close: (code, reason) => { try { ws.close(code, reason); } catch { ws.terminate(); } },
      };
    },
  };
}

function memory() {
  const items = new Map();
  return { load: (k) => items.get(k) ?? null, save: (k, v) => items.set(k, v), remove: (k) => items.delete(k), items };
}

async function until(probe, what, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (probe()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const phoneUrl = (token) => `${WS}/ws/phone?token=${encodeURIComponent(token)}`;

test('the phone through the core: bind, start, captures, a drop, a restart, the end', async (t) => {
  const pcSeen = [];
  const phoneSeen = [];
  const camera = { on: true, ready() { return this.on; }, async takePhoto() { return JPEG.buffer.slice(JPEG.byteOffset, JPEG.byteOffset + JPEG.byteLength); } };
  const storage = memory();
  const confirms = [];
  const makePhone = (store, token) => new PhoneSession({
    url: phoneUrl(token), socket: wsSocket(phoneSeen), storage: store, camera, key: 'phone-test',
    renewToken: async () => {
      const res = await fetch(`${HTTP}/api/phone/token`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      return res.ok ? res.json() : null;
    },
    handlers: { onConfirm: (m) => confirms.push(m) },
  });
  const captures = (reason) => phoneSeen.filter((m) => m.type === 'capture' && (!reason || m.reason === reason));
  const errors = (seen) => seen.filter((m) => m.type === 'error');
  let sent = 0;   // photos of the sessions before the current one
  const settled = () => phone.hub.welcomed && phone.hub.outbox.length === 0 && phone.pending.length === 0 && !phone.taking;
  t.afterEach((ctx) => {
    if (ctx && ctx.passed === false) console.error('phone saw:', JSON.stringify(phoneSeen.slice(-12)));
  });

  let info;
  await t.test('bind: the phone token tells whose exam it is (rule D3)', async () => {
    const res = await fetch(`${HTTP}/api/phone/info`, { headers: { Authorization: `Bearer ${env('HUB_PHONE_TOKEN')}` } });
    assert.equal(res.status, 200);
    info = await res.json();
    assert.equal(info.status, 'in_progress');
    assert.ok(info.binding_key);
  });

  const pc = new HubConnection({ url: `${WS}/ws/pc?token=${encodeURIComponent(env('HUB_PC_TOKEN'))}`, socket: wsSocket(pcSeen), storage: memory() });
  let phone = makePhone(storage, env('HUB_PHONE_TOKEN'));
  t.after(() => { pc.stop(); phone.hub.stop(); });

  await t.test('start: phone_start is answered by a capture, and the photo by an ack (rule D4)', async () => {
    pc.start();
    phone.run();
    await until(() => pc.welcomed && phone.hub.welcomed, 'both welcomes');
    assert.ok(phone.start());
    await until(() => phone.photos === 1 && settled(), 'the start photo acknowledged');
    assert.equal(captures('start').length, 1);
    assert.deepEqual(errors(phoneSeen), []);
  });

  await t.test('a return after a hide: asleep, then page_return and its photo', async () => {
    phone.hidden();
    phone.shown();
    await until(() => captures('return').length === 1 && settled(), 'the return photo acknowledged');
    assert.equal(captures('return').length, 1);
  });

  await t.test('a dropped socket resumes with nothing lost (rule H1)', async () => {
    phone.hidden();
    phone.hub.ws.terminate();          // the network drops before the acks
    phone.shown();                     // queued while offline
    const before = phoneSeen.filter((m) => m.type === 'welcome').length;
    await until(() => phoneSeen.filter((m) => m.type === 'welcome').length === before + 1, 'the second welcome');
    await until(() => captures('return').length === 2 && settled(), 'the resumed return photo');
    assert.deepEqual(errors(phoneSeen), []);
  });

  await t.test('a restart that lost its storage goes on from last_acked + 1 (not duplicates)', async () => {
    const lastSeq = phone.hub.seq;
    sent += phone.photos;
    phone.hub.stop();
    const fresh = memory();
    fresh.save('phone-test:started', '1');       // the phone had started; its outbox is gone
    phone = makePhone(fresh, env('HUB_PHONE_TOKEN'));
    phone.run();
    await until(() => phone.hub.welcomed, 'the restarted welcome');
    assert.ok(phone.rejoin());
    await until(() => captures('return').length === 3 && settled(), 'the photo after the restart');
    assert.ok(phone.hub.seq > lastSeq);
    const dup = phoneSeen.filter((m) => m.type === 'ack' && m.duplicate && m.seq > lastSeq);
    assert.deepEqual(dup, []);
  });

  await t.test('an early end asks to confirm (rule D5)', async () => {
    assert.equal(phone.requestEnd(), 'confirm');
    phone.end(false);                  // unconfirmed: the hub asks
    await until(() => confirms.length === 1, 'the confirm message');
    assert.equal(phone.finished, false);
  });

  // rule H10: the hub stores a photo for a request issued before the end,
  // whatever its label, with the request's own issue time
  await t.test('a capture asked before the end is answered after it (rule H10)', async () => {
    camera.on = false;
    phone.cameraLost();
    phone.hub.send('camera', { state: 'live' });   // a hint: the hub asks for a photo
    await until(() => captures('camera_check').length >= 1 && phone.pending.length === 1, 'the camera_check capture');
    pc.send('submit');
    await until(() => pc.ended && phone.pcEnded, 'the end on both devices');
    camera.on = true;
    const photos = phone.photos;
    phone.cameraReady();
    await until(() => phone.photos === photos + 1 && phone.hub.outbox.length === 0, 'the late photo answered');
    assert.deepEqual(errors(phoneSeen).filter((e) => e.code !== 'ended'), []);
  });

  await t.test('the end: after the PC, the phone ends its part at once', async () => {
    assert.equal(phone.requestEnd(), 'sent');
    await until(() => phone.finished, 'the phone finished');
  });

  console.log(`RESULT ${JSON.stringify({ photos: sent + phone.photos, captures: captures().length })}`);
});
