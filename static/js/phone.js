// The phone client, the exam's second camera (rules D3–D6, E2, H1, H2).
//
// Opened from the PC exam page's QR code with a phone token (no sign-in on the
// phone). The first time it binds to the candidate and shows the notice
// (D3). The exam screen opens the rear camera (D4: facingMode 'environment',
// flip to 'user'); "开始考试" sends phone_start and the hub asks for a photo at
// once; every return to the page sends page_return (another photo); every
// capture request from the hub is answered with a JPEG over the websocket
// (the binary frame of the shared core, hub-core.js). Camera state goes to the hub: live,
// asleep while the page is hidden, lost when the track stops (H2), with a
// one-tap rejoin. Ending before the PC asks for confirmation (D5).
import { mountContact } from './contact.js';
import { PhoneSession } from './hub-core.js';
import { browserSocket, sessionStore } from './hub.js';
import { t } from './i18n.js';

const PHOTO_MAX_SIDE = 960;
const PHOTO_MAX_BYTES = 600 * 1024;
const BINDING_KEY = 'proctor.phone.binding';

const TEXT = {
  noToken: t('phone.noToken'),
  expired: t('phone.expired'),
  ended: t('phone.ended'),
  cameraFailed: t('phone.cameraFailed'),
  camera: { off: t('invigilator.camera_off'), preview: t('phone.preview'), live: t('phone.live'), asleep: t('phone.asleep'), lost: t('phone.lost') },
  hub: { connecting: t('pc.status.connecting'), connected: t('pc.status.connected'), offline: t('pc.status.offline'), ended: '' },
};

/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

class PhoneClient {
  constructor(token, info) {
    this.token = token;
    this.info = info;
    this.facing = 'environment';   // rule D4: the rear camera by default
    this.stream = null;
    // the protocol and the phone's rules are the shared core (hub-core.js);
    // this page gives it the browser's socket, storage and camera
    this.session = new PhoneSession({
      url: this.wsUrl(token),
      socket: browserSocket,
      storage: sessionStore,
      key: `proctor.phone.${info.attempt_id}`,
      camera: { ready: () => this.cameraReady(), takePhoto: () => this.takePhoto() },
      renewToken: () => this.renewToken(),
      handlers: {
        onChange: (view) => this.render(view),
        onConfirm: (message) => this.askEnd(message),
        onWarning: (text) => this.say(t('phone.s22', { text })),
        onNotice: (text) => this.say(text),
        onExpired: () => this.say(TEXT.expired),
        onMessage: (msg) => this.contact?.receive(msg),  // rule L1
      },
    });
    this.hub = this.session.hub;
    this.contact = mountContact($('contact'), this.hub);
  }

  async run() {
    $('phone-paper').textContent = t('phone.s23', { kind_label: this.info.paper.kind_label, title: this.info.paper.title });
    $('phone-exam').hidden = false;
    window.phoneHub = this.hub;  // for debugging and tests
    this.session.run();     // rule D6: either device may come first
    $('phone-flip').addEventListener('click', () => this.flip());
    $('phone-start').addEventListener('click', () => this.start());
    $('phone-rejoin').addEventListener('click', () => this.rejoin());
    $('phone-end').addEventListener('click', () => this.askEnd());
    $('phone-end-yes').addEventListener('click', () => this.end(true));
    $('phone-end-no').addEventListener('click', () => { $('phone-end-confirm').hidden = true; });
    document.addEventListener('visibilitychange', () => this.onVisibility());
    await this.openCamera();
    if (this.session.started) await this.rejoin();  // a reload during the exam: carry on
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
      this.session.cameraLost();
      return false;
    }
    const video = $('phone-preview');
    video.srcObject = this.stream;
    video.muted = true;
    video.play().catch(() => {});
    for (const track of this.stream.getVideoTracks()) {
      track.addEventListener('ended', () => this.onTrackEnded(track));
    }
    $('phone-rejoin').hidden = true;
    this.cameraState(this.session.started ? 'live' : 'preview');
    this.session.cameraReady();
    return true;
  }

  async flip() {
    this.facing = this.facing === 'environment' ? 'user' : 'environment';
    $('phone-flip').dataset.facing = this.facing;
    await this.openCamera();
  }

  onTrackEnded(track) {
    if (!this.stream || !this.stream.getVideoTracks().includes(track) || this.session.finished) return;
    // rule H2: the camera stopped (taken by another app, or the system): lost, one tap to rejoin
    this.cameraState('lost');
    $('phone-rejoin').hidden = false;
    this.session.cameraLost();
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
    if (!this.session.start()) return;
    this.cameraState('live');
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
    if (this.session.finished) return;
    if (!this.cameraReady() && !(await this.openCamera())) return;
    if (!this.session.rejoin()) return;
    this.cameraState('live');
    this.keepAwake();  // a wake lock ends when the page is hidden
  }

  onVisibility() {
    if (document.visibilityState === 'hidden') {
      if (this.session.started && !this.session.finished && !this.session.pcEnded) this.cameraState('asleep');
      this.session.hidden();  // rule H2: asleep, not a violation
    } else {
      this.session.visible = true;
      this.rejoin();  // rule D4: every return to the exam page takes a photo
    }
  }

  // ----- photos (rules D4, E2) ---------------------------------------------------------

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
    return blob.arrayBuffer();
  }

  // ----- the hub ---------------------------------------------------------------------

  wsUrl(token) {
    const origin = location.origin.replace(/^http/, 'ws');
    return `${origin}/ws/phone?token=${encodeURIComponent(token)}`;
  }

  async renewToken() {
    const res = await fetch('/api/phone/token', {
      method: 'POST', headers: { Authorization: `Bearer ${this.token}` },
    });
    if (!res.ok) return null;
    const data = await res.json();
    this.token = data.token;
    // a reload of this page uses the fresh token, not the scanned one
    const url = new URL(location.href);
    url.searchParams.set('token', data.token);
    history.replaceState(null, '', url);
    return data;
  }

  render(view) {
    if (view.finished) { this.showDone(); return; }
    $('phone-status').textContent = TEXT.hub[view.hub] ?? '';
    $('phone-status').dataset.hub = view.hub;
    $('phone-status').dataset.photos = String(view.photos);
    $('phone-start').disabled = view.started || !this.cameraReady();
    if (view.started) {
      $('phone-start').textContent = t('invigilator.running');
      $('phone-end').hidden = false;
    }
    if (view.pc) {
      const pc = view.pc;
      $('phone-pc-state').textContent = pc.status === 'ended' ? t('phone.s25')
        : pc.connected ? t('phone.s26', { violations: pc.violations, max: pc.max }) : t('phone.s27');
    }
    if (view.pcEnded && this.session.endMessage !== undefined) {
      // rule D5: the PC has ended; the phone ends its part now
      const note = $('phone-ended');
      note.textContent = t('phone.s28', { endMessage: this.session.endMessage });
      note.hidden = false;
      $('phone-end').hidden = false;
      $('phone-pc-state').textContent = t('phone.s25');
    }
  }

  // ----- the end (rule D5) ---------------------------------------------------------------

  askEnd(message) {
    const next = this.session.requestEnd();
    if (next !== 'confirm') return;
    if (message) $('phone-end-confirm-text').textContent = message;
    $('phone-end-confirm').hidden = false;
  }

  end(confirmed) {
    $('phone-end-confirm').hidden = true;
    this.session.end(confirmed);
  }

  showDone() {
    if (this.done) return;
    this.done = true;
    for (const track of this.stream?.getTracks() || []) track.stop();
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
  $('bind-paper').textContent = t('phone.s23', { kind_label: info.paper.kind_label, title: info.paper.title });
  $('phone-bind').hidden = false;
  await waitClick('phone-bind-ok');
  localStorage.setItem(BINDING_KEY, info.binding_key);
  $('phone-bind').hidden = true;
  $('phone-notice').hidden = false;
  await waitClick('phone-notice-ok');
  $('phone-notice').hidden = true;
}

// Issue #14: no QR code scanned (typed /p by hand): the 8-character binding
// code shown on the PC page is traded once for a phone token.
async function tokenFromCode() {
  $('phone-loading').hidden = true;
  const form = $('phone-code-form');
  form.hidden = false;
  for (;;) {
    await new Promise((resolve) => form.addEventListener('submit', (e) => { e.preventDefault(); resolve(); }, { once: true }));
    $('phone-code-error').hidden = true;
    try {
      const res = await fetch('/api/phone/bind', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ code: $('phone-code').value }),
      });
      const data = await res.json().catch(() => ({}));
      if (res.ok) {
        form.hidden = true;
        const url = new URL(location.href);
        url.searchParams.set('token', data.token);
        history.replaceState(null, '', url);  // a reload keeps the phone in
        return data.token;
      }
      $('phone-code-error').textContent = data.message || TEXT.expired;
    } catch {
      $('phone-code-error').textContent = t('phone.s31');
    }
    $('phone-code-error').hidden = false;
  }
}

async function main() {
  const token = params.get('token') || await tokenFromCode();
  let res;
  try {
    res = await fetch('/api/phone/info', { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    fail(t('phone.s32'));
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
