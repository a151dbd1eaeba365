// PC candidate page (skeleton thread): with the signed-in session, start the mock attempt, keep
// the hub websocket with heartbeats, and send the camera over WebRTC.
import { api } from './api.js';
import { HubSocket, watchFocus } from './hub.js';
import { t } from './i18n.js';
import { openCamera, sendCamera } from './rtc.js';

/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

function connectHub(url) {
  // protocol v1 (docs/protocol.md): hello, acknowledged messages, resume after a drop
  const hub = new HubSocket(url, {
    onStatus: (s) => {
      const key = { connecting: 'pc.status.connecting', connected: 'pc.status.connected' }[s] || 'pc.status.offline';
      $('status').textContent = t(key);
    },
  });
  hub.start();
  watchFocus(hub, null);  // rules E3/H3: leaving the page is a violation, counted by the hub
  return hub;
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('error').textContent = '';
  let stream;
  try {
    stream = await openCamera();
  } catch (err) {
    $('error').textContent = t('pc.camera.denied');  // rule D2: no camera, no exam
    return;
  }
  try {
    // Rule A1: signing in (captcha + SMS code) happens on the login page; here we only
    // pick up the session (and its CSRF token), or send the candidate to sign in.
    try {
      await api('GET', '/api/auth/me');
    } catch (err) {
      if (err.status === 401) {
        location.href = '/static/login.html?next=' + encodeURIComponent(location.pathname + location.search);
        return;
      }
      throw err;
    }
    const attempt = await api('POST', '/api/attempts', { paper_id: Number(params.get('paper') || 1) });
    $('attempt').textContent = t('pc.attempt_no', { id: attempt.attempt_id });
    $('attempt').dataset.attemptId = attempt.attempt_id;
    connectHub(attempt.ws_pc_url);
    const preview = $('camera-preview');
    preview.srcObject = stream;
    preview.hidden = false;  // rule E1: live camera view in the top-right corner
    await sendCamera(stream, attempt.pc_token);
    $('camera-status').textContent = t('pc.camera.live');
  } catch (err) {
    $('error').textContent = err.message;
  }
});
