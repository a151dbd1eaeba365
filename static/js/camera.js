// The PC camera (rules D2, E1, E2, G2): open it, show it in the top-right
// corner, and send it to the hub over WebRTC.
//
// - aiortc does not trickle ICE: the offer goes out once gathering is complete.
// - A "control" data channel carries the hub's frame-rate wishes (low while
//   nobody watches, full while an invigilator does), applied with
//   RTCRtpSender.setParameters, and our track's mute/ended events.
// - After a network drop (connection "failed", or "disconnected" for 3 s) the
//   page offers again with the same client id; the hub replaces its old peer.
import { api } from './api.js';
import { SCREEN_IDLE_FPS } from './screen.js';
import { t } from './i18n.js';

const RECONNECT_AFTER_MS = 3000;
const MAX_BACKOFF_MS = 15000;
const LOW_FPS = 3;  // until the hub says otherwise

const CAMERA_ERRORS = {
  NotAllowedError: t('camera.NotAllowedError'),
  SecurityError: t('camera.SecurityError'),
  NotFoundError: t('camera.NotFoundError'),
  OverconstrainedError: t('camera.OverconstrainedError'),
  NotReadableError: t('camera.NotReadableError'),
  AbortError: t('camera.AbortError'),
};
const CAMERA_ERROR_DEFAULT = t('pc.camera.denied');

/** The D2 prompt (zh-CN) for a getUserMedia error. */
export function cameraErrorMessage(err) {
  return CAMERA_ERRORS[err && err.name] || CAMERA_ERROR_DEFAULT;
}

/** Open the PC camera; throws (see cameraErrorMessage) when there is none or it is refused. */
export async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const err = new Error('no mediaDevices'); err.name = 'NotFoundError'; throw err;
  }
  return navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 30 } },
    audio: false,
  });
}

/** Rule E1: the live view in the top-right corner of the paper. */
export function showPreview(video, stream) {
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  video.hidden = false;
  video.classList.add('camera-preview');
  video.play().catch(() => {});
}

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function newClientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function setMaxFramerate(sender, fps) {
  const params = sender.getParameters();
  if (!params.encodings || params.encodings.length === 0) params.encodings = [{}];
  params.encodings[0].maxFramerate = fps;
  await sender.setParameters(params);
}

/**
 * A camera link to the hub that survives network drops.
 * Events (EventTarget): "state" {detail: {state}} with connecting | live |
 * reconnecting | refused | stopped; "rate" {detail: {fps}}.
 */
export class CameraLink extends EventTarget {
  constructor(stream, pcToken, { offerUrl = '/api/rtc/offer', screen = null, iceServers = [] } = {}) {
    super();
    this.stream = stream;
    this.screen = screen;  // rule J1: the whole screen, the offer's second video (screen.js)
    this.pcToken = pcToken;
    this.offerUrl = offerUrl;
    this.iceServers = iceServers;  // STUN/TURN from the tokens answer (PROCTOR_ICE_SERVERS)
    this.clientId = newClientId();
    this.pc = null;
    this.sender = null;
    this.control = null;
    this.fps = LOW_FPS;
    this.stopped = false;
    this.state = 'connecting';
    this.backoff = 1000;
    this.dropTimer = null;
    this.track = stream.getVideoTracks()[0];
    this.onTrackEvent = (ev) => this.report(ev.type === 'ended' ? 'ended' : ev.type === 'mute' ? 'muted' : 'live');
    for (const type of ['mute', 'unmute', 'ended']) this.track.addEventListener(type, this.onTrackEvent);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  report(state, type = 'camera') {
    if (this.control && this.control.readyState === 'open') {
      this.control.send(JSON.stringify({ type, state }));
    }
  }

  /** A new whole-screen share (or none): sent on a fresh connection. */
  async setScreen(screen) {
    this.screen = screen;
    if (!this.stopped) await this.reconnect();
  }

  /** Connect once; resolves when the hub's answer is applied. */
  async connect() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.sender = pc.addTrack(this.track, this.stream);
    const screenTrack = this.screen && this.screen.getVideoTracks()[0];
    const screenSender = screenTrack && screenTrack.readyState === 'live' ? pc.addTrack(screenTrack, this.screen) : null;
    const control = pc.createDataChannel('control');
    this.control = control;
    control.addEventListener('message', (ev) => this.onControl(ev.data));
    control.addEventListener('open', () => this.report(this.track.muted ? 'muted' : 'live'));
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(pc));
    await setMaxFramerate(this.sender, this.fps).catch(() => {});
    if (screenSender) await setMaxFramerate(screenSender, SCREEN_IDLE_FPS).catch(() => {});
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const answer = await api('POST', this.offerUrl, {
      token: this.pcToken, sdp: pc.localDescription.sdp, type: 'offer', client_id: this.clientId,
    });
    if (this.pc !== pc) { pc.close(); return; }
    await pc.setRemoteDescription(answer);
  }

  onControl(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.type === 'rate' && Number.isFinite(msg.max_framerate)) {
      this.fps = msg.max_framerate;
      if (this.sender) setMaxFramerate(this.sender, this.fps).catch(() => {});
      this.dispatchEvent(new CustomEvent('rate', { detail: { fps: this.fps } }));
    }
  }

  onConnectionState(pc) {
    if (pc !== this.pc || this.stopped) return;
    clearTimeout(this.dropTimer);
    if (pc.connectionState === 'connected') {
      this.backoff = 1000;
      this.setState('live');
    } else if (pc.connectionState === 'failed') {
      this.reconnect();
    } else if (pc.connectionState === 'disconnected') {
      this.setState('reconnecting');
      this.dropTimer = setTimeout(() => this.reconnect(), RECONNECT_AFTER_MS);
    }
  }

  async reconnect() {
    if (this.stopped) return;
    this.setState('reconnecting');
    if (this.pc) this.pc.close();
    this.pc = null;
    try {
      await this.connect();
    } catch (err) {
      if (err.status === 409 || err.status === 401 || err.status === 403) {
        // another page holds the camera, the attempt ended, or the token expired
        this.setState('refused');
        this.dispatchEvent(new CustomEvent('error', { detail: err }));
        return;
      }
      setTimeout(() => this.reconnect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.dropTimer);
    for (const type of ['mute', 'unmute', 'ended']) this.track.removeEventListener(type, this.onTrackEvent);
    if (this.pc) this.pc.close();
    this.pc = null;
    this.setState('stopped');
  }
}

/** Send the camera to the hub; resolves with the link once the answer is applied. */
export async function sendCamera(stream, pcToken, options) {
  const link = new CameraLink(stream, pcToken, options);
  await link.connect();
  return link;
}
