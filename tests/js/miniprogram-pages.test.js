// The mini-program's pages (miniprogram/pages/*) in miniprogram-simulate, with
// `wx` the RecordingWx adapter (recording-wx.js, the only fake): binding (D3),
// the paper entry, the camera, its photos and the page's hide/show (D4, H2), the early end (D5).
// Run by tests/clients/test_miniprogram_pages.py.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { JSDOM } = require('jsdom');

// miniprogram-simulate needs a DOM and ships none
const dom = new JSDOM('<!doctype html><html><body></body></html>');
global.window = dom.window;
global.document = dom.window.document;
global.CustomEvent = dom.window.CustomEvent;
const simulate = require('miniprogram-simulate');
const { RecordingWx } = require('./recording-wx.js');
const { decodePhotoFrame } = require('../../miniprogram/lib/hub-core.js');

const PAGES = path.resolve(__dirname, '../../miniprogram/pages');
const TOKEN = 'v1.12.phone.1900000000.0a1b2c3d';
const ORIGIN = 'https://exam.example.com';
const QR = `${ORIGIN}/static/phone.html?token=${TOKEN}`;
const INFO = {
  attempt_id: 12, status: 'in_progress', candidate: '张三', binding_key: 'bind-12',
  paper: { kind_label: '正式考试', title: '高等数学' },
};
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

// A fresh RecordingWx as the only `wx` (simulate merges its own mock into global.wx).
function recording() {
  const rec = new RecordingWx();
  global.wx = rec.wx;
  return rec;
}

// The page as WeChat would open it: rendered, attached, then onLoad(options).
function openPage(name, options = {}) {
  const page = simulate.render(simulate.load(path.join(PAGES, name, 'index'), { compiler: 'simulate' }));
  page.attach(document.createElement('parent-wrapper'));
  page.instance.onLoad(options);
  return page;
}

async function until(probe, what, ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const text = (page, selector) => { const node = page.querySelector(selector); return node ? node.dom.textContent : null; };
const tap = async (page, selector) => { page.querySelector(selector).dispatchEvent('tap'); await simulate.sleep(0); };
// an attribute of a built-in component (<camera>), as the template set it
function attr(page, selector, name) {
  const found = page.querySelector(selector).toJSON().attrs.find((a) => a.name === name);
  return found && found.value;
}

test('bind: scan the PC\'s QR code, confirm the binding, read the notice (D3)', async () => {
  const rec = recording();
  rec.answer('scanCode', () => ({ result: QR }));
  rec.answer('request', (o) => {
    assert.equal(o.url, `${ORIGIN}/api/phone/info`);
    assert.equal(o.header.Authorization, `Bearer ${TOKEN}`);
    return { statusCode: 200, data: INFO };
  });
  const page = openPage('bind');
  assert.ok(page.querySelector('#scan'));

  await tap(page, '#scan');
  await until(() => page.querySelector('#bind-card'), 'the binding card');
  assert.equal(rec.last('scanCode').options.onlyFromCamera, true);
  assert.equal(text(page, '#bind-name'), '张三');
  assert.equal(text(page, '#bind-paper'), '正式考试：高等数学');
  assert.equal(JSON.parse(rec.storage.get('proctor.phone.link')).token, TOKEN);

  await tap(page, '#bind-ok');
  assert.equal(rec.storage.get('proctor.phone.binding'), 'bind-12');
  assert.ok(page.querySelector('#notice'));
  assert.equal(rec.called('redirectTo').length, 0);
  await tap(page, '#notice-ok');
  assert.equal(rec.last('redirectTo').options.url, '/pages/paper/index');
});

test('bind: a QR code that is not ours is refused before any request (D3)', async () => {
  const rec = recording();
  rec.answer('scanCode', () => ({ result: 'https://elsewhere.example.com/?id=3' }));
  const page = openPage('bind');
  await tap(page, '#scan');
  await until(() => page.querySelector('#error'), 'the error');
  assert.match(text(page, '#error'), /不是考试系统的二维码/);
  assert.equal(rec.called('request').length, 0);
});

test('paper: the entries, one chosen, confirmed; a restart during the exam goes back to the camera (D4)', async () => {
  const rec = recording();
  rec.storage.set('proctor.phone.link', JSON.stringify({ origin: ORIGIN, token: TOKEN, info: INFO }));
  const page = openPage('paper');
  assert.equal(text(page, '#paper'), '正式考试：高等数学');
  assert.equal(page.querySelectorAll('.entry').length, 3);
  assert.equal(page.instance.data.chosen, 'home');
  await tap(page, '#entry-class');
  assert.equal(page.instance.data.chosen, 'class');
  await tap(page, '#paper-ok');
  assert.equal(rec.last('redirectTo').options.url, '/pages/camera/index');

  const restarted = recording();
  restarted.storage.set('proctor.phone.link', JSON.stringify({ origin: ORIGIN, token: TOKEN, info: INFO }));
  restarted.storage.set('proctor.phone.12:started', '1');
  openPage('paper');
  assert.equal(restarted.last('redirectTo').options.url, '/pages/camera/index');
});

// The camera page bound to attempt 12, its socket opened and welcomed.
async function cameraPage(t) {
  const rec = recording();
  rec.storage.set('proctor.phone.link', JSON.stringify({ origin: ORIGIN, token: TOKEN, info: INFO }));
  rec.answer('CameraContext.takePhoto', () => ({ tempImagePath: 'wxfile://shot.jpg' }));
  rec.answer('compressImage', (o) => ({ tempFilePath: `${o.src}.q${o.quality}` }));
  rec.answer('FileSystemManager.readFile', () => ({ data: JPEG.buffer.slice(0) }));
  const page = openPage('camera');
  t.after(() => {   // onUnload stops the page's timers: the heartbeat and the token refresh
    page.instance.onUnload();
    page.detach();
  });
  const socket = rec.sockets[0];
  assert.equal(socket.url, `wss://exam.example.com/ws/phone?token=${TOKEN}`);
  socket.open();
  assert.equal(socket.messages()[0].type, 'hello');
  socket.receive({ type: 'welcome', last_acked: 0, n: 1 });
  return { rec, page, socket };
}

const sentTypes = (socket) => socket.messages().map((m) => m.type).filter((type) => type !== 'heartbeat');

test('camera: rear by default, flips to front, screen kept on (D4)', async (t) => {
  const { rec, page } = await cameraPage(t);
  assert.equal(text(page, '#paper'), '正式考试：高等数学');
  assert.ok(page.querySelector('#camera'), 'the <camera> is rendered');
  assert.equal(attr(page, '#camera', 'device-position'), 'back');
  assert.deepEqual(rec.called('setKeepScreenOn').map((c) => c.options.keepScreenOn), [true]);

  await tap(page, '#flip');
  assert.equal(attr(page, '#camera', 'device-position'), 'front');
  await tap(page, '#flip');
  assert.equal(attr(page, '#camera', 'device-position'), 'back');
});

test('camera: start sends the start photo as a PH frame; hide is asleep, show is page_return (D4, H2)', async (t) => {
  const { rec, page, socket } = await cameraPage(t);
  assert.equal(page.instance.data.cameraOk, false);
  page.querySelector('#camera').dispatchEvent('initdone');
  await until(() => page.instance.data.cameraOk, 'the camera ready');
  assert.equal(page.querySelector('#camera-state').dom.dataset.state, 'preview');

  await tap(page, '#start');
  assert.deepEqual(sentTypes(socket).slice(1), ['phone_start', 'camera']);
  assert.equal(socket.messages().find((m) => m.type === 'camera').state, 'live');
  assert.ok(rec.called('setKeepScreenOn').length >= 2);

  socket.receive({ type: 'ack', seq: 2, n: 2 });
  socket.receive({ type: 'capture', request_id: 41, reason: 'start', n: 3 });
  await until(() => socket.frames().length === 1, 'the photo frame');
  assert.equal(rec.called('createCameraContext').length, 1);
  assert.equal(rec.last('CameraContext.takePhoto').options.quality, 'normal');
  const compress = rec.last('compressImage').options;
  assert.equal(compress.src, 'wxfile://shot.jpg');
  assert.equal(rec.last('FileSystemManager.readFile').options.filePath, compress.src + '.q' + compress.quality);
  const frame = decodePhotoFrame(socket.frames()[0]);
  assert.equal(frame.magic, 'PH');
  assert.equal(frame.seq, 3);
  assert.equal(frame.requestId, 41);
  assert.deepEqual(Array.from(frame.jpeg), Array.from(JPEG));
  await until(() => page.instance.data.cameraState === 'live', 'live');

  page.instance.onHide();
  const asleep = socket.messages().pop();
  assert.deepEqual([asleep.type, asleep.state, asleep.seq], ['camera', 'asleep', 4]);
  await until(() => page.instance.data.cameraState === 'asleep', 'asleep');

  page.instance.onShow();
  const back = socket.messages().pop();
  assert.deepEqual([back.type, back.seq], ['page_return', 5]);
  assert.ok(rec.called('setKeepScreenOn').every((c) => c.options.keepScreenOn === true));
});

test('camera: onShow without a hide before it sends nothing', async (t) => {
  const { page, socket } = await cameraPage(t);
  page.querySelector('#camera').dispatchEvent('initdone');
  await until(() => page.instance.data.cameraOk, 'the camera ready');
  await tap(page, '#start');
  const before = sentTypes(socket).length;
  page.instance.onShow();
  assert.equal(sentTypes(socket).length, before);
});

test('end: before the PC\'s end a confirmation, then phone_end confirmed and the end page (D5)', async (t) => {
  const { rec, page, socket } = await cameraPage(t);
  page.querySelector('#camera').dispatchEvent('initdone');
  await until(() => page.instance.data.cameraOk, 'the camera ready');
  await tap(page, '#start');
  assert.ok(page.querySelector('#end'), 'the end button once started');

  await tap(page, '#end');
  const modal = rec.last('showModal');
  assert.match(modal.options.content, /电脑端考试尚未结束/);
  modal.succeed({ confirm: false, cancel: true });   // 继续监控
  assert.equal(socket.messages().filter((m) => m.type === 'phone_end').length, 0);

  await tap(page, '#end');
  rec.last('showModal').succeed({ confirm: true, cancel: false });
  const end = socket.messages().pop();
  assert.deepEqual([end.type, end.confirmed], ['phone_end', true]);
  assert.equal(rec.called('redirectTo').length, 0, 'not before the hub acknowledged it');
  socket.receive({ type: 'ack', seq: end.seq, n: 5 });
  await until(() => rec.called('redirectTo').length, 'the end page');
  assert.equal(rec.last('redirectTo').options.url, '/pages/end/index');
  assert.equal(rec.last('setKeepScreenOn').options.keepScreenOn, false);
  assert.equal(rec.storage.has('proctor.phone.link'), false);
});

test('end: after the PC\'s end no confirmation (D5)', async (t) => {
  const { rec, page, socket } = await cameraPage(t);
  page.querySelector('#camera').dispatchEvent('initdone');
  await until(() => page.instance.data.cameraOk, 'the camera ready');
  await tap(page, '#start');
  socket.receive({ type: 'ended', message: '考试已提交。', n: 4 });
  await until(() => page.querySelector('#ended'), 'the end note');
  await tap(page, '#end');
  assert.equal(rec.called('showModal').length, 0);
  const end = socket.messages().pop();
  assert.deepEqual([end.type, end.confirmed], ['phone_end', false]);
});

test('the end page: screen no longer kept on, a new scan leads to binding (D5)', async () => {
  const rec = recording();
  const page = openPage('end');
  assert.match(text(page, '#done'), /手机端考试已结束/);
  assert.equal(rec.last('setKeepScreenOn').options.keepScreenOn, false);
  await tap(page, '#again');
  assert.equal(rec.last('redirectTo').options.url, '/pages/bind/index');
});
