// The PC exam page's devices: the camera, the hub and the phone (rules D1–D3,
// D6, D7, E1, E3, H1–H3). Hooks into the paper page (exam.js) through its
// "exam-ready" event:
//
// - device check (D7): the camera opens (else the D2 prompt and the exam does
//   not open), its video reaches the hub over WebRTC (camera.js), the hub's
//   websocket answers (hub.js); the preparation checklist of the seed beside it;
// - the live preview in the top-right corner (E1);
// - the phone's QR code (D3) and its address as text; either device may
//   start first (D6);
// - answering is paused (page.block) until both cameras are live and while
//   either is not (D1, H2), with the reason and how to fix it;
// - focus: every switch away goes to the hub (watchFocus, E3/H3); the hub's
//   count comes back as "已切屏 n 次（共 5 次）"; invigilators' warnings shown;
// - a dropped connection is shown and resumed (H1); the hub's end (fifth
//   violation, time up, invigilator) stops answering and shows the result.
import { api } from './api.js';
import { CameraLink, cameraErrorMessage, openCamera, showPreview } from './camera.js';
import { browserProblem, el } from './dom.js';
import { mountContact } from './contact.js';
import { HubSocket, watchFocus } from './hub.js';
import { SCREEN_TEXT, openScreen } from './screen.js';
import { IdentityCheck } from './identity-check.js';
import { tx } from './exam-text.js';
import { WarningModal } from './exam-warnings.js';

const CAMERA_AFTER_END_MS = 4000;  // rule H10: the last violation's PC frame
const TOKEN_REFRESH_MS = 120_000;  // device tokens live 5 minutes by default
const END_POLL_MS = 1000;
const END_POLL_TRIES = 15;

const TEXT = {
  checking: tx('exam.devices.checking'),
  pcWaiting: tx('exam.devices.pcWaiting'),
  phoneNone: tx('exam.devices.phoneNone'),
  phoneNotStarted: tx('exam.devices.phoneNotStarted'),
  phoneAsleep: tx('exam.devices.phoneAsleep'),
  phoneFinished: tx('exam.devices.phoneFinished'),
  phoneLost: tx('exam.devices.phoneLost'),
  hubConnecting: tx('pc.status.connecting'),
  hubOffline: tx('exam.conn.offline'),
  hubConnected: tx('exam.conn.ok'),
};

const CHECKLIST = [
  [tx('exam.prep.1.title'), tx('exam.prep.1.text')],
  [tx('exam.prep.2.title'), tx('exam.prep.2.text')],
  [tx('exam.prep.3.title'), tx('exam.prep.3.text')],
  [tx('exam.prep.4.title'), tx('exam.prep.4.text')],
  [tx('exam.prep.screen.title'), SCREEN_TEXT.how],
];

const PHONE_CAMERA = {
  off: tx('exam.phone_camera.off'),
  live: tx('exam.phone_camera.live'),
  asleep: tx('exam.phone_camera.asleep'),
  lost: tx('phone.lost'),
};

class ExamDevices {
  constructor(page) {
    this.page = page;
    this.attemptId = page.attemptId;
    this.hub = null;
    this.link = null;
    this.stream = null;
    this.screen = null;     // rule J1: the whole-screen share (screen.js)
    this.screenProblem = SCREEN_TEXT.how;  // why there is none, in the candidate's words
    this.state = null;      // the hub's last "state" message
    // rule I2: after the device check, the face check; the paper stays hidden until it clears
    this.identity = new IdentityCheck(this.attemptId, document.getElementById('identity-check'),
      () => this.applyBlock());
    this.ended = false;
    this.refreshTimer = null;
    /** @type {(id: string) => any} */
    this.$ = (id) => document.getElementById(id);
  }

  async start() {
    this.page.root.addEventListener('exam-ended', () => this.finish());
    this.render();
    this.page.block(TEXT.checking);
    this.check('camera', 'pending', tx('exam.check.camera_opening'));
    try {
      const problem = browserProblem();  // rule A6: no WebRTC, IE mode
      if (problem) throw Object.assign(new Error(problem), { prompt: problem });
      this.stream = await openCamera();
    } catch (err) {
      // rule D2: no camera or no permission: the prompt, and the exam does not open
      const message = err.prompt || cameraErrorMessage(err);
      this.check('camera', 'failed', message);
      this.page.block(message);
      this.$('exam-questions').hidden = true;
      this.$('camera-prompt').textContent = message;
      this.$('camera-prompt').hidden = false;
      return;
    }
    const video = el('video', { testid: 'camera-preview', autoplay: true, muted: true, playsinline: true });
    this.$('camera-slot').replaceChildren(video, el('span', { class: 'camera-live-label' }, tx('exam.camera.live_label')));
    document.body.classList.add('has-camera');  // its own column: it covers nothing (issue #14)
    showPreview(video, this.stream);  // rule E1: top-right corner
    this.check('camera', 'pending', tx('exam.check.camera_joining'));
    for (const track of this.stream.getVideoTracks()) {
      track.addEventListener('ended', () => this.cameraLost(tx('exam.camera.stopped')));
    }

    let links;
    try {
      links = await api('POST', `/api/attempts/${this.attemptId}/tokens`);
    } catch (err) {
      if (err.status === 409) { await this.page.refresh(); return; }
      throw err;
    }
    this.connectHub(links.ws_pc_url);
    this.showPhoneLink();
    await this.openScreenShare();  // rule J1: asked at once; the button asks again
    this.connectCamera(links.pc_token, links.ice_servers || []);
    this.refreshTimer = setInterval(() => this.refreshTokens(), TOKEN_REFRESH_MS);
  }

  render() {
    const list = el('ul', { class: 'device-checks' },
      el('li', { testid: 'check-camera', 'data-state': 'pending' }, el('b', {}, tx('exam.check.camera')), el('span', {}, tx('exam.check.pending'))),
      el('li', { testid: 'check-screen', 'data-state': 'pending' }, el('b', {}, tx('exam.check.screen')), el('span', {}, tx('exam.check.pending')),
        el('button', { type: 'button', testid: 'share-screen', class: 'share-screen', hidden: true }, tx('exam.check.share_screen'))),
      el('li', { testid: 'check-hub', 'data-state': 'pending' }, el('b', {}, tx('exam.check.hub')), el('span', {}, tx('exam.check.pending'))),
      el('li', { testid: 'check-phone', 'data-state': 'pending' }, el('b', {}, tx('exam.check.phone')), el('span', {}, tx('invigilator.unknown'))));
    const prep = el('details', { class: 'prep-list', testid: 'prep-checklist', open: true },
      el('summary', {}, tx('papers.s14')),
      el('ol', {}, CHECKLIST.map(([title, text]) => el('li', {}, el('b', {}, title), tx('exam.colon'), text))));
    this.$('exam-devices').replaceChildren(
      el('div', { class: 'device-check' }, el('h2', {}, tx('exam.check.title')), list, prep),
      el('div', { class: 'phone-link', testid: 'phone-link-box' },
        el('h2', {}, tx('exam.phone_link.title')),
        el('p', { class: 'meta' }, tx('exam.phone_link.how')),
        el('img', { id: 'phone-qr', testid: 'phone-qr', alt: tx('exam.phone_link.qr_alt'), width: 180, height: 180 }),
        el('p', { class: 'meta', testid: 'phone-code-hint' }, tx('exam.phone_link.type_before'),
          el('b', { id: 'phone-short-url', testid: 'phone-short-url' }, '…'), tx('exam.phone_link.type_code'),
          el('b', { id: 'phone-code', testid: 'phone-code', class: 'bind-code' }, '…'), tx('exam.phone_link.type_after')),
        el('details', { class: 'meta' }, el('summary', {}, tx('exam.phone_link.full_url')),
          el('code', { id: 'phone-url', testid: 'phone-url' }, '…'))));
    this.$('exam-devices').hidden = false;
    this.shareButton().addEventListener('click', () => this.shareAgain());
  }

  // ----- the screen (rules J1, J2) ------------------------------------------------

  shareButton() {
    return this.$('exam-devices').querySelector('[data-testid="share-screen"]');
  }

  async openScreenShare() {
    try {
      this.screen = await openScreen();
    } catch (err) {
      this.screen = null;
      this.screenProblem = err.prompt || SCREEN_TEXT.refused;
      this.check('screen', 'failed', this.screenProblem);
      this.shareButton().hidden = false;
      return false;
    }
    this.screenProblem = SCREEN_TEXT.waiting;
    this.check('screen', 'pending', SCREEN_TEXT.waiting);
    this.shareButton().hidden = true;
    const track = this.screen.getVideoTracks()[0];
    // the candidate pressed "stop sharing": the server hears it at once (it
    // would see the frames stop anyway), answering pauses, the button returns
    track.addEventListener('ended', () => this.screenStopped(track));
    return true;
  }

  screenStopped(track) {
    if (this.ended || !this.screen || this.screen.getVideoTracks()[0] !== track) return;
    this.link?.report('ended', 'screen');
    this.screen = null;
    this.screenProblem = SCREEN_TEXT.stopped;
    this.check('screen', 'failed', SCREEN_TEXT.stopped);
    this.shareButton().hidden = false;
    this.page.block(SCREEN_TEXT.stopped);
  }

  async shareAgain() {
    if (this.ended || !(await this.openScreenShare())) return;
    if (this.link) await this.link.setScreen(this.screen);
  }

  check(name, state, text) {
    const item = this.$('exam-devices').querySelector(`[data-testid="check-${name}"]`);
    if (!item) return;
    item.dataset.state = state;
    item.querySelector('span').textContent = text;
  }

  // ----- the phone's way in (rule D3) ---------------------------------------

  async showPhoneLink() {
    if (this.ended) return;
    this.$('phone-qr').src = `/api/attempts/${this.attemptId}/phone-qr?t=${Date.now()}`;
    try {
      const link = await api('GET', `/api/attempts/${this.attemptId}/phone-link`);
      this.$('phone-url').textContent = link.url;
      this.$('phone-short-url').textContent = link.short_url;
      this.$('phone-code').textContent = link.code;
    } catch (err) {
      this.$('phone-url').textContent = err.message;
    }
  }

  async refreshTokens() {
    if (this.ended) return;
    try {
      const links = await api('POST', `/api/attempts/${this.attemptId}/tokens`);
      this.hub.url = links.ws_pc_url;
      if (this.link) this.link.pcToken = links.pc_token;
      const phone = this.state?.devices?.phone;
      if (!phone || phone.camera !== 'live') this.showPhoneLink();  // a fresh code for a (re)scan
      return links;
    } catch (err) {
      if (err.status === 409) this.page.refresh();
      return null;
    }
  }

  // ----- the hub (rules E3, H1, H3) ---------------------------------------------

  connectHub(url) {
    this.hub = new HubSocket(url, {
      onMessage: (msg) => this.onMessage(msg),
      onStatus: (status, code) => this.onStatus(status, code),
    });
    window.examHub = this.hub;  // for debugging and tests
    this.contact = mountContact(this.$('contact'), this.hub);  // rule L1
    this.warnings = new WarningModal(this.$('warning-modal'), this.hub, this.attemptId);  // rule H4
    this.hub.start();
    watchFocus(this.hub, this.page.root);
    // A reload counts as leaving (pagehide); being back on the paper closes it.
    if (document.visibilityState === 'visible' && document.hasFocus()) this.hub.send('focus', { state: 'back' });
  }

  async onStatus(status, code) {
    const net = this.$('net-state');
    const ok = this.$('conn-state');
    if (this.ended) return;
    if (status === 'connected') {
      net.hidden = true;
      ok.textContent = TEXT.hubConnected;
      ok.hidden = false;
      this.check('hub', 'ok', tx('attempt_timeline.live'));
    } else if (status === 'connecting') {
      this.check('hub', 'pending', TEXT.hubConnecting);
    } else if (status === 'offline') {
      // rule H1: an outage, not a violation; the hub socket resumes by itself
      net.textContent = TEXT.hubOffline;
      net.hidden = false;
      ok.hidden = true;
      this.check('hub', 'failed', TEXT.hubOffline);
      if (code === 4401) {  // the token expired while away: a fresh one, then again
        const links = await this.refreshTokens();
        if (links) this.hub.connect();
      }
    }
  }

  onMessage(msg) {
    if (this.contact?.receive(msg)) return;
    if (msg.type === 'state') this.onState(msg);
    else if (msg.type === 'violation') this.onViolation(msg);
    else if (msg.type === 'warning') this.onWarning(msg);
    else if (msg.type === 'extra_time') this.onExtraTime(msg);
    else if (msg.type === 'ended') this.onEnded(msg);
  }

  onState(msg) {
    this.state = msg;
    if (msg.status === 'ended') return;
    this.page.followDeadline(msg.deadline_at, msg.server_time);  // rule M2
    const { pc, phone } = msg.devices;
    this.check('camera', pc.camera === 'live' ? 'ok' : 'pending',
      pc.camera === 'live' ? tx('exam.check.camera_ok') : tx('exam.check.camera_joining'));
    const screen = msg.screen || { state: 'off', required: false };
    if (screen.state === 'live') this.check('screen', 'ok', SCREEN_TEXT.live);
    else if (this.screen) this.check('screen', 'pending', SCREEN_TEXT.waiting);
    else this.check('screen', 'failed', this.screenProblem);
    const phoneText = phone.connected ? PHONE_CAMERA[phone.camera] : (phone.camera === 'off' ? tx('invigilator.unknown') : PHONE_CAMERA.lost);
    this.check('phone', phone.connected && phone.camera === 'live' ? 'ok' : 'failed', phoneText);
    // once shown, the count follows every state: a forgiven violation brings it down
    if (this.ended) return;
    if (msg.violations > 0 || !this.$('violation-count').hidden) this.showCount(msg.violations, msg.max_violations);
    const reason = this.applyBlock();
    // Both cameras live: the check steps aside for the paper; the code comes back when needed.
    const phoneLive = phone.connected && phone.camera === 'live';
    this.$('phone-link-box').hidden = phoneLive;
    if (!reason && !this.collapsed) {
      this.collapsed = true;
      this.$('exam-devices').querySelector('details').open = false;
    }
  }

  // Answering waits for both cameras (D1, H2), then for the face check (I2).
  applyBlock() {
    if (!this.state || this.ended) return null;
    const cameras = blockReason(this.state, this.screenProblem);
    const face = cameras ? null : this.identity.blockText();
    if (!cameras && !this.identity.state && !this.identityStarted) {
      this.identityStarted = true;
      this.identity.start();
    }
    const reason = cameras || face || (this.identity.state ? null : tx('exam.identity.preparing'));
    this.page.block(reason);
    const checking = !cameras && Boolean(face);
    this.$('exam-questions').hidden = checking;  // the paper opens after the face check
    return cameras;
  }

  showCount(count, max) {
    const box = this.$('violation-count');
    box.textContent = tx('exam.violations', { count, max });
    box.hidden = false;
  }

  onViolation(msg) {
    if (this.ended) return;
    this.showCount(msg.count, msg.max);
    const banner = this.$('violation-banner');
    banner.textContent = tx('exam.violations.with_message', { counted: tx('exam.violations', { count: msg.count, max: msg.max }), message: msg.message });
    banner.hidden = false;
  }

  onExtraTime(msg) {
    this.page.followDeadline(msg.deadline_at, msg.server_time);
    const box = this.$('exam-extra-time');
    box.textContent = msg.message;
    box.hidden = false;
  }

  onWarning(msg) {
    if (!this.ended) this.warnings.show(msg);  // rule H4: a modal until 我知道了
  }

  async onEnded(msg) {
    if (this.ended) return;
    this.ended = true;
    this.page.showEnding(msg.reason);  // the one end card; its score follows
    this.stopDevices();
    // The hub writes the end to the database right after it tells us: read it back.
    for (let i = 0; i < END_POLL_TRIES && !this.page.endView; i += 1) {
      try { await this.page.refresh(); } catch { /* the network may be back in a moment */ }
      if (!this.page.endView) await new Promise((r) => setTimeout(r, END_POLL_MS));
    }
  }

  finish() {
    // The paper page ended the attempt (submit, time up): the hub tells the phone.
    this.ended = true;
    this.identity.stop();
    this.stopDevices();
  }

  stopDevices() {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.refreshTimer);
    this.warnings?.stop();
    // the preview no longer pretends to be live (issue #14): its label goes
    // at once, the box with the camera, which runs a moment longer (below)
    this.$('camera-slot').querySelector('.camera-live-label')?.remove();
    this.$('net-state').hidden = true;
    this.$('conn-state').hidden = true;
    this.contact?.disable();
    this.$('phone-link-box')?.setAttribute('hidden', '');
    // Rule H10: the camera stays on a moment after the end, so the frame the
    // server takes of the last violation (the fifth ends the exam) arrives.
    setTimeout(() => {
      this.$('camera-slot').hidden = true;
      document.body.classList.remove('has-camera');
      if (this.link) this.link.stop();
      for (const track of this.stream?.getTracks() || []) track.stop();
      for (const track of this.screen?.getTracks() || []) track.stop();
    }, CAMERA_AFTER_END_MS);
  }

  // ----- the camera (rules D1, E1, G2) ------------------------------------------------

  async connectCamera(pcToken, iceServers) {
    const link = new CameraLink(this.stream, pcToken, { screen: this.screen, iceServers });
    // A reload of this tab is the same page: its offer replaces the old peer
    // instead of being refused as a second page (another tab gets its own id).
    const key = `proctor.exam.${this.attemptId}.camera-client`;
    link.clientId = sessionStorage.getItem(key) || link.clientId;
    sessionStorage.setItem(key, link.clientId);
    this.link = link;
    window.examCamera = link;
    link.addEventListener('state', (/** @type {CustomEvent} */ ev) => {
      const { state } = ev.detail;
      if (state === 'live') this.hub.send('camera', { state: 'live' });
      else if (state === 'reconnecting' || state === 'refused') this.hub.send('camera', { state: 'lost' });
      if (state === 'refused') this.cameraLost(tx('exam.camera.refused'));
    });
    try {
      await link.connect();
    } catch (err) {
      if (err.status === 409 || err.status === 401 || err.status === 403) {
        this.cameraLost(err.message);
        return;
      }
      link.reconnect();  // a network error: try again with growing pauses
    }
  }

  cameraLost(message) {
    if (this.ended) return;
    this.check('camera', 'failed', message);
    this.hub?.send('camera', { state: 'lost' });
    this.page.block(message);
  }
}

// Rules D1 / H2 / J1: why answering waits, in the candidate's words; null
// when both cameras (and, if required, the whole-screen share) are live.
export function blockReason(state, screenProblem = SCREEN_TEXT.how) {
  const { pc, phone } = state.devices;
  if (state.phone_finished) return TEXT.phoneFinished;  // rule D5: ended early
  if (pc.camera !== 'live') return TEXT.pcWaiting;
  const screen = state.screen;
  if (screen && screen.required && screen.state !== 'live') return screenProblem;
  if (phone.camera === 'asleep') return TEXT.phoneAsleep;
  if (phone.camera === 'lost' || (!phone.connected && phone.camera !== 'off')) return TEXT.phoneLost;
  if (!phone.connected) return TEXT.phoneNone;
  if (phone.camera !== 'live') return TEXT.phoneNotStarted;
  return null;
}

document.addEventListener('exam-ready', (/** @type {CustomEvent} */ event) => {
  const page = event.detail;
  if (page.ended) return;
  const devices = new ExamDevices(page);
  window.examDevices = devices;
  devices.start().catch((err) => page.showError(err.message));
});
