// The phone client, the exam's second camera (rules D3–D6, E2, H1, H2).
//
// Opened from the PC exam page's QR code with a phone token (no sign-in on the
// phone). The first time it binds to the candidate and shows the notice
// (D3). The exam screen opens the rear camera (D4: facingMode 'environment',
// flip to 'user'); "开始考试" sends phone_start and the hub asks for a photo at
// once; every return to the page sends page_return (another photo); every
// capture request from the hub is answered with a JPEG over the websocket
// (binary frame via HubSocket.sendPhoto). Camera state goes to the hub: live,
// asleep while the page is hidden, lost when the track stops (H2), with a
// one-tap rejoin. Ending before the PC asks for confirmation (D5).
import { HubSocket } from './hub.js';

const TOKEN_REFRESH_MS = 120_000;
const PHOTO_MAX_SIDE = 960;
const PHOTO_MAX_BYTES = 600 * 1024;
const MAX_PENDING_CAPTURES = 8;
const BINDING_KEY = 'proctor.phone.binding';

const TEXT = {
  noToken: '请使用电脑端考试页面中的二维码打开本页。',
  expired: '二维码已失效，请在电脑端考试页面重新扫描二维码。',
  ended: '本场考试已结束。',
  cameraFailed: '无法打开手机摄像头：请允许本页面使用摄像头后点击“重新连接摄像头”。',
  camera: { off: '摄像头未开启', preview: '摄像头已开启（尚未开始）', live: '监控中', asleep: '已暂停（离开了本页面）', lost: '摄像头已断开' },
  hub: { connecting: '正在连接监考服务…', connected: '已连接监考服务', offline: '网络中断，正在重连…', ended: '' },
};

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

class PhoneClient {
  constructor(token, info) {
    this.token = token;
    this.info = info;
    this.facing = 'environment';   // rule D4: the rear camera by default
    this.stream = null;
    this.hub = null;
    this.started = sessionStorage.getItem(this.startedKey()) === '1';
    this.pcEnded = false;
    this.finished = false;
    this.pending = [];              // capture requests waiting for the camera
    this.endSeq = 0;
  }

  startedKey() { return `proctor.phone.${this.info.attempt_id}.started`; }

  async run() {
    $('phone-paper').textContent = `${this.info.paper.kind_label}：${this.info.paper.title}`;
    $('phone-exam').hidden = false;
    this.connectHub();     // rule D6: either device may come first
    $('phone-flip').addEventListener('click', () => this.flip());
    $('phone-start').addEventListener('click', () => this.start());
    $('phone-rejoin').addEventListener('click', () => this.rejoin());
    $('phone-end').addEventListener('click', () => this.askEnd());
    $('phone-end-yes').addEventListener('click', () => this.end(true));
    $('phone-end-no').addEventListener('click', () => { $('phone-end-confirm').hidden = true; });
    document.addEventListener('visibilitychange', () => this.onVisibility());
    setInterval(() => this.refreshToken(), TOKEN_REFRESH_MS);
    await this.openCamera();
    if (this.started) await this.rejoin();  // a reload during the exam: carry on
  }

  // ----- the camera (rule D4) ----------------------------------------------------

  async openCamera() {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: this.facing }, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (err) {
      this.cameraState('lost');
      this.say(TEXT.cameraFailed);
      $('phone-rejoin').hidden = false;
      if (this.started) this.hub.send('camera', { state: 'lost' });
      return false;
    }
    const video = $('phone-preview');
    video.srcObject = this.stream;
    video.muted = true;
    video.play().catch(() => {});
    for (const track of this.stream.getVideoTracks()) {
      track.addEventListener('ended', () => this.onTrackEnded(track));
    }
    $('phone-start').disabled = this.started;
    $('phone-rejoin').hidden = true;
    this.cameraState(this.started ? 'live' : 'preview');
    this.answerPending();
    return true;
  }

  async flip() {
    this.facing = this.facing === 'environment' ? 'user' : 'environment';
    $('phone-flip').dataset.facing = this.facing;
    await this.openCamera();
  }

  onTrackEnded(track) {
    if (!this.stream || !this.stream.getVideoTracks().includes(track) || this.finished) return;
    // rule H2: the camera stopped (taken by another app, or the system): lost, one tap to rejoin
    this.cameraState('lost');
    $('phone-rejoin').hidden = false;
    if (this.started) this.hub.send('camera', { state: 'lost' });
  }

  cameraState(state) {
    const box = $('phone-camera-state');
    box.textContent = TEXT.camera[state];
    box.dataset.state = state;
  }

  cameraReady() {
    const track = this.stream?.getVideoTracks()[0];
    return Boolean(track && track.readyState === 'live');
  }

  // ----- start, returns, rejoin (rules D4, H2) ---------------------------------------

  start() {
    if (!this.cameraReady() || this.finished) return;
    this.started = true;
    sessionStorage.setItem(this.startedKey(), '1');
    $('phone-start').disabled = true;
    $('phone-start').textContent = '考试中';
    $('phone-end').hidden = false;
    this.cameraState('live');
    this.hub.send('phone_start');   // the hub answers with a capture request: a photo at once
    // a hint only (rule H9): the start photo is what makes the camera live
    this.hub.send('camera', { state: 'live' });
    this.keepAwake();
  }

  // The seed: keep the screen on during the exam (where the browser can).
  async keepAwake() {
    try {
      if (navigator.wakeLock && document.visibilityState === 'visible') {
        this.wakeLock = await navigator.wakeLock.request('screen');
      }
    } catch { /* not allowed here: the notice asked to turn auto-lock off */ }
  }

  async rejoin() {
    if (this.finished) return;
    if (!this.cameraReady() && !(await this.openCamera())) return;
    if (!this.started) return;
    $('phone-start').disabled = true;
    $('phone-start').textContent = '考试中';
    $('phone-end').hidden = false;
    this.cameraState('live');
    this.hub.send('camera', { state: 'live' });
    this.hub.send('page_return');   // back on the page: a photo
    this.keepAwake();  // a wake lock ends when the page is hidden
  }

  onVisibility() {
    if (!this.started || this.finished || this.pcEnded) return;
    if (document.visibilityState === 'hidden') {
      this.cameraState('asleep');
      this.hub.send('camera', { state: 'asleep' });  // rule H2: asleep, not a violation
    } else {
      this.rejoin();  // rule D4: every return to the exam page takes a photo
    }
  }

  // ----- photos (rules D4, E2) ---------------------------------------------------------

  onCapture(requestId) {
    this.pending.push(requestId);
    if (this.pending.length > MAX_PENDING_CAPTURES) this.pending.shift();
    this.answerPending();
  }

  async answerPending() {
    if (this.taking || !this.cameraReady()) return;
    this.taking = true;
    try {
      while (this.pending.length && this.cameraReady()) {
        const requestId = this.pending[0];
        const jpeg = await this.takePhoto();
        this.pending.shift();
        if (jpeg) this.hub.sendPhoto(requestId, jpeg);
      }
    } finally {
      this.taking = false;
    }
  }

  async takePhoto() {
    const video = $('phone-preview');
    if (!video.videoWidth) {
      await new Promise((resolve) => {
        video.addEventListener('loadeddata', resolve, { once: true });
        setTimeout(resolve, 3000);
      });
    }
    if (!video.videoWidth) return null;
    const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const canvas = $('phone-canvas');
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    let quality = 0.85;
    let blob = await toJpeg(canvas, quality);
    while (blob && blob.size > PHOTO_MAX_BYTES && quality > 0.35) {
      quality -= 0.2;
      blob = await toJpeg(canvas, quality);
    }
    if (!blob || blob.size > PHOTO_MAX_BYTES) return null;
    const count = Number($('phone-status').dataset.photos || 0) + 1;
    $('phone-status').dataset.photos = String(count);
    return blob.arrayBuffer();
  }

  // ----- the hub ---------------------------------------------------------------------

  wsUrl(token) {
    const origin = location.origin.replace(/^http/, 'ws');
    return `${origin}/ws/phone?token=${encodeURIComponent(token)}`;
  }

  connectHub() {
    this.hub = new HubSocket(this.wsUrl(this.token), {
      onMessage: (msg) => this.onMessage(msg),
      onStatus: (status, code) => this.onStatus(status, code),
      onAck: (seq) => { if (seq === this.endSeq) this.finish(); },
    });
    window.phoneHub = this.hub;  // for debugging and tests
    this.hub.start();
  }

  async refreshToken() {
    if (this.finished || this.pcEnded) return false;
    try {
      const res = await fetch('/api/phone/token', {
        method: 'POST', headers: { Authorization: `Bearer ${this.token}` },
      });
      if (!res.ok) return false;
      const data = await res.json();
      this.token = data.token;
      this.hub.url = data.ws_phone_url;
      // a reload of this page uses the fresh token, not the scanned one
      const url = new URL(location.href);
      url.searchParams.set('token', data.token);
      history.replaceState(null, '', url);
      return true;
    } catch {
      return false;
    }
  }

  async onStatus(status, code) {
    if (this.finished) return;
    $('phone-status').textContent = TEXT.hub[status] ?? '';
    $('phone-status').dataset.hub = status;
    if (status === 'connected' && this.started && !this.pcEnded && this.cameraReady()
        && document.visibilityState === 'visible') {
      // rule H1/H2: the hub marked the camera lost when the socket dropped; it is back
      this.hub.send('camera', { state: 'live' });
    }
    if (status === 'offline' && code === 4401) {
      if (await this.refreshToken()) this.hub.connect();
      else this.say(TEXT.expired);
    }
  }

  onMessage(msg) {
    if (msg.type === 'capture') this.onCapture(msg.request_id);
    else if (msg.type === 'state') this.onState(msg);
    else if (msg.type === 'ended') this.onEnded(msg);
    else if (msg.type === 'confirm' && msg.action === 'phone_end') this.askEnd(msg.message);
    else if (msg.type === 'warning') this.say(`监考员提醒：${msg.message}`);
    else if (msg.type === 'error' && msg.seq === this.endSeq) this.finish();
  }

  onState(msg) {
    const pc = msg.devices.pc;
    const text = msg.status === 'ended' ? '电脑端考试已结束'
      : pc.connected ? `电脑端考试中（已切屏 ${msg.violations} 次，共 ${msg.max_violations} 次）` : '电脑端未连接';
    $('phone-pc-state').textContent = text;
    if (msg.phone_finished && !this.finished) this.finish();
  }

  onEnded(msg) {
    // rule D5: the PC has ended; the phone ends its part now
    this.pcEnded = true;
    // HubSocket stops sending after "ended"; the phone's part goes on until
    // its own phone_end (the hub keeps the phone's socket open for it).
    this.hub.ended = false;
    const note = $('phone-ended');
    note.textContent = `电脑端考试已结束：${msg.message}请点击“结束考试”完成手机监控。`;
    note.hidden = false;
    $('phone-end').hidden = false;
    $('phone-pc-state').textContent = '电脑端考试已结束';
  }

  // ----- the end (rule D5) ---------------------------------------------------------------

  askEnd(message) {
    if (this.finished) return;
    if (this.pcEnded) { this.end(false); return; }
    if (message) $('phone-end-confirm-text').textContent = message;
    $('phone-end-confirm').hidden = false;
  }

  end(confirmed) {
    $('phone-end-confirm').hidden = true;
    this.hub.send('phone_end', { confirmed });
    this.endSeq = this.hub.seq;
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    sessionStorage.removeItem(this.startedKey());
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.hub.stop();
    $('phone-exam').hidden = true;
    $('phone-done').hidden = false;
  }

  say(text) {
    const box = $('phone-error');
    box.textContent = text;
    box.hidden = !text;
  }
}

function toJpeg(canvas, quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
}

function fail(text) {
  $('phone-loading').hidden = true;
  $('phone-error').textContent = text;
  $('phone-error').hidden = false;
}

function waitClick(id) {
  return new Promise((resolve) => $(id).addEventListener('click', resolve, { once: true }));
}

// Rule D3: the first time on this phone, bind to the candidate, then the notice.
async function bind(info) {
  if (localStorage.getItem(BINDING_KEY) === info.binding_key) return;
  $('bind-name').textContent = info.candidate;
  $('bind-paper').textContent = `${info.paper.kind_label}：${info.paper.title}`;
  $('phone-bind').hidden = false;
  await waitClick('phone-bind-ok');
  localStorage.setItem(BINDING_KEY, info.binding_key);
  $('phone-bind').hidden = true;
  $('phone-notice').hidden = false;
  await waitClick('phone-notice-ok');
  $('phone-notice').hidden = true;
}

async function main() {
  const token = params.get('token');
  if (!token) { fail(TEXT.noToken); return; }
  let res;
  try {
    res = await fetch('/api/phone/info', { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    fail('网络连接失败，请检查手机网络后刷新页面。');
    return;
  }
  const info = await res.json().catch(() => ({}));
  if (!res.ok) { fail(info.message || TEXT.expired); return; }
  $('phone-loading').hidden = true;
  if (info.status !== 'in_progress') { fail(TEXT.ended); return; }
  await bind(info);
  const client = new PhoneClient(token, info);
  window.phoneClient = client;
  await client.run();
}

main().catch((err) => fail(err.message));
