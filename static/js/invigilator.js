// The invigilator wall (rules G5, H4): tiles of the running attempts in the
// invigilator's rooms, riskiest and stalest first, from one polled batch read
// every 2.5 s. Clicking a tile opens its detail panel: live state over
// /ws/invigilate (the hub's /ws/watch, room-checked), live video only for that tile (rule L2: the PC
// camera's frames forwarded by the server over WebRTC; until it plays, or when it cannot, a fresh PC
// keyframe every 1.5 s; the page's frame rate raised while watched), and the commands warn,
// end (with a reason) and forgive one violation (with a reason), audited by
// the server. Face flags are shown as flags, never as verdicts (rule H6).
// Contact (rule L1: raised hands, the conversation, room messages): wall-contact.js.
import { api, csrf } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { closeContact, contactMessage, loadPresets, noticeHands, openContact, renderRooms, tileContact } from './wall-contact.js';
import { t } from './i18n.js';

const POLL_MS = 2500;
const LIVE_MS = 1500;

const zh = {
  camera: { live: t('attempt_timeline.live'), lost: t('attempt_timeline.lost'), asleep: t('attempt_timeline.asleep'), off: t('attempt_timeline.off'), unknown: t('invigilator.unknown') },
  device: { pc: t('attempt_timeline.pc'), phone: t('attempt_timeline.phone'), screen: t('attempt_timeline.screen') },
  status: { running: t('invigilator.running'), waiting: t('invigilator.waiting'), ended: t('invigilator.ended') },
  face: { none: t('attempt_timeline.none'), several: t('attempt_timeline.several'), one: t('attempt_timeline.one'), unknown: t('attempt_timeline.unknown') },
  reason: {
    violation: t('attempt_timeline.violation'), away: t('invigilator.away'), camera_lost: t('invigilator.camera_lost'), camera_asleep: t('invigilator.camera_asleep'),
    camera_off: t('invigilator.camera_off'), disconnected: t('invigilator.disconnected'), heartbeat_stale: t('invigilator.heartbeat_stale'),
    no_face: t('attempt_timeline.none'), several_faces: t('attempt_timeline.several'), screen_lost: t('invigilator.screen_lost'),
    someone_else: t('invigilator.someone_else'), nobody: t('invigilator.nobody'), identity_waiting: t('invigilator.identity_waiting'),
  },
  identity: {
    checking: t('invigilator.checking'), passed: t('invigilator.passed'), waiting: t('invigilator.waiting_2'),
    admitted: t('invigilator.admitted'), refused: t('invigilator.refused'),
  },
  kind: { tab_hidden: t('invigilator.tab_hidden'), window_blur: t('invigilator.window_blur'), click_outside: t('attempt_timeline.s15') },
  endLabel: { submitted: t('invigilator.submitted'), time_up: t('invigilator.time_up'), fifth_violation: t('invigilator.fifth_violation'), invigilator: t('invigilator.invigilator'), abandoned: t('invigilator.abandoned') },
};

let sessions = new Map();   // attempt id -> tile data of the last poll
let openId = null;          // the attempt shown in the detail panel
let watchSocket = null;
let liveTimer = null;
let liveUrl = null;
let videoPc = null;         // the live video's peer (rule L2), while the panel is open
let videoPlaying = false;
const ICE_GATHER_MS = 3000;

const ago = (s) => (s === null || s === undefined ? t('invigilator.s12') : s < 60 ? t('invigilator.s13', { v: Math.round(s) }) : t('invigilator.s14', { v: Math.floor(s / 60) }));
const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

function cameraCell(cam) {
  return el('div', { class: `cam ${cam.camera}`, testid: `tile-cam-${cam.device}` },
    `${zh.device[cam.device]} ${zh.camera[cam.camera] ?? cam.camera}`,
    el('div', { class: 'meta' }, ago(cam.staleness_s)));
}

function thumb(cam) {
  const snap = cam.snapshot;
  if (!snap) return el('div', { class: 'meta' }, t('invigilator.s15', { v: zh.device[cam.device] }));
  return el('div', {},
    el('img', { src: snap.image_url, alt: t('attempt_timeline.s9', { v: zh.device[cam.device] }), loading: 'lazy', testid: `tile-thumb-${cam.device}` }),
    el('span', { class: `flag ${snap.face_flag}`, testid: `tile-face-${cam.device}` }, zh.face[snap.face_flag]));
}

// rules J1, J2: the screen share beside the two cameras
function screenCell(screen) {
  if (!screen) return '';
  return el('div', { class: `cam ${screen.state}`, testid: 'tile-cam-screen' },
    t('invigilator.s17', { v: zh.camera[screen.state] ?? screen.state }));
}

function screenThumb(screen) {
  const snap = screen && screen.snapshot;
  if (!snap) return el('div', { class: 'meta' }, t('invigilator.s18'));
  return el('div', {}, el('img', { src: snap.image_url, alt: t('invigilator.alt'), loading: 'lazy', testid: 'tile-thumb-screen' }));
}

function tile(s) {
  const bad = s.violations > 0;
  const contact = tileContact(s);  // rule L1: a raised hand lights the tile
  return el('article', {
    class: `tile${s.attempt_id === openId ? ' open' : ''}`, testid: `tile-${s.attempt_id}`,
    'data-risk': s.risk_level, 'data-attempt': s.attempt_id, onclick: () => openDetail(s.attempt_id),
    ...contact.attrs,
  },
  contact.node,
  el('h4', {}, el('span', { testid: 'tile-name' }, s.candidate.name),
    el('span', { class: `viol${bad ? ' bad' : ''}`, testid: 'tile-violations' }, t('invigilator.tile-violations', { violations: s.violations, max_violations: s.max_violations }))),
  el('div', { class: 'meta' }, el('span', { testid: 'tile-status' }, s.away ? t('invigilator.s20') : zh.status[s.status] ?? s.status),
    t('invigilator.s21', { v: mmss(s.remaining_s) }), s.warnings ? t('invigilator.s22', { warnings: s.warnings }) : '',
    s.warnings_open ? el('span', { class: 'warn-open', testid: 'tile-warnings-open' }, t('invigilator.warnings_open', { n: s.warnings_open })) : ''),
  el('div', { class: 'cams' }, cameraCell(s.cameras.pc), cameraCell(s.cameras.phone), screenCell(s.screen)),
  el('div', { class: 'thumbs' }, thumb(s.cameras.pc), thumb(s.cameras.phone), screenThumb(s.screen)),
  el('div', { class: 'reasons', testid: 'tile-reasons' }, s.risk_reasons.map((r) => zh.reason[r] ?? r).join(t('admin.s146'))),
  s.identity_state ? el('div', { class: `meta identity ${s.identity_state}`, testid: 'tile-identity' },
    zh.identity[s.identity_state] ?? s.identity_state) : '');
}

// ----- the face check (rule I2): both pictures, admit or refuse with a reason --------

async function refreshIdentity(id) {
  const box = byTestId('detail-identity');
  let check;
  try {
    check = await api('GET', `/api/invigilate/attempts/${id}/identity`);
  } catch {
    return;
  }
  if (openId !== id) return;
  const frame = [...check.tries].reverse().find((t) => t.image_url);
  byTestId('identity-state').textContent = t('invigilator.s24', { v: zh.identity[check.state] ?? check.state, failed: check.failed });
  byTestId('identity-state').dataset.state = check.state;
  const photo = byTestId('identity-photo');
  if (check.id_photo_url) photo.src = check.id_photo_url; else photo.removeAttribute('src');
  byTestId('identity-photo-note').textContent = check.id_photo_url ? t('request.doc.id_photo') : t('invigilator.s26');
  const shot = byTestId('identity-frame');
  if (frame) shot.src = frame.image_url; else shot.removeAttribute('src');
  byTestId('identity-frame-note').textContent = frame ? t('invigilator.s27', { message: frame.message }) : t('invigilator.s28');
  byTestId('identity-decide').hidden = !(check.state === 'waiting' || check.state === 'checking');
  box.hidden = check.state === 'checking' && check.tries.length === 0;
}

async function decideIdentity(decision) {
  const field = byTestId('identity-reason');
  const reason = field.value.trim();
  if (!reason) { message(t('invigilator.s29')); return; }
  if (decision === 'refuse' && !confirm(t('invigilator.s30'))) return;
  const done = decision === 'admit' ? t('invigilator.s31') : t('invigilator.s32');
  if (await command('identity', { decision, reason }, done)) field.value = '';
  if (openId !== null) refreshIdentity(openId);
}

async function poll() {
  try {
    const data = await api('GET', '/api/invigilate/sessions?limit=100');
    setError(byTestId('wall-error'), '');
    sessions = new Map(data.sessions.map((s) => [s.attempt_id, s]));
    byTestId('wall').replaceChildren(...data.sessions.map(tile));
    noticeHands(data.sessions);
    renderRooms(data.rooms);
    byTestId('wall-empty').hidden = data.sessions.length > 0;
    byTestId('wall-count').textContent = t('invigilator.s33', { total: data.total }) + (data.total > data.sessions.length ? t('invigilator.s34', { length: data.sessions.length }) : '');
    byTestId('wall-rooms').textContent = data.rooms.length ? t('invigilator.s35', { v: data.rooms.map((r) => r.name).join(t('admin.s146')) }) : t('invigilator.s36');
    byTestId('wall-updated').textContent = t('invigilator.s37', { v: new Date().toLocaleTimeString('zh-CN', { hour12: false }) });
    if (openId !== null && sessions.has(openId)) {
      renderLedger(sessions.get(openId).ledger);
      refreshIdentity(openId);  // rule I2: the open tile's face check, both pictures
    }
  } catch (err) {
    setError(byTestId('wall-error'), t('invigilator.s38', { message: err.message }));
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// ----- detail panel ------------------------------------------------------------

function message(text) {
  const node = byTestId('detail-msg');
  node.textContent = text;
  node.hidden = !text;
}

function renderState(st) {
  const rows = [
    [t('records.s15'), st.status === 'ended' ? t('invigilator.s40', { v: zh.endLabel[st.end_reason] ?? st.end_reason }) : st.away ? t('invigilator.s20') : t('invigilator.running')],
    [t('attempt_timeline.violation'), `${st.violations}/${st.max_violations}`],
    [t('invigilator.s44'), mmss(st.remaining_s)],
  ];
  for (const [name, dev] of Object.entries(st.devices)) {
    rows.push([`${zh.device[name]}`, t('invigilator.s45', { v: dev.connected ? t('invigilator.s2_2') : t('invigilator.unknown'), v2: zh.camera[dev.camera] ?? dev.camera })]);
  }
  if (st.screen) rows.push([t('attempt_timeline.screen'), t('invigilator.s47', { v: zh.camera[st.screen.state] ?? st.screen.state })]);  // rule J1
  byTestId('detail-state').replaceChildren(...rows.flatMap(([k, v]) => [el('span', { class: 'meta' }, k), el('span', { testid: `detail-${k}` }, v)]));
}

function renderLedger(ledger) {
  const list = byTestId('detail-ledger');
  list.replaceChildren(...(ledger.length ? ledger.map((v) => el('li', { class: v.forgiven ? 'forgiven' : '' },
    t('invigilator.s48', { index: v.index, v: zh.kind[v.kind] ?? v.kind, duration_s: v.duration_s }),
    v.forgiven ? t('invigilator.s49') : el('button', { type: 'button', class: 'secondary', testid: `forgive-${v.index}`, onclick: () => forgive(v.index) }, t('invigilator.s50')))) : []));
  // an empty ledger says so beside the list, not as its item "1."
  byTestId('detail-ledger-empty').hidden = ledger.length > 0;
}

async function command(path, body, done) {
  try {
    await api('POST', `/api/invigilate/attempts/${openId}/${path}`, body);
    message(done);
    return true;
  } catch (err) {
    message(err.message);
    return false;
  }
}

async function forgive(index) {
  const field = byTestId('forgive-reason');
  const reason = field.value.trim();
  if (!reason) { message(t('invigilator.s51')); return; }
  // a reason is for one violation: the field is emptied once it has been used
  if (await command('forgive', { index, reason }, t('invigilator.s52', { index }))) field.value = '';
}

function openSocket(id) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/invigilate?attempt=${id}`);
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (contactMessage(msg)) return;
    if (msg.type === 'state') renderState(msg);
    else if (msg.type === 'violation') message(t('invigilator.s53', { count: msg.count, max: msg.max }));
    else if (msg.type === 'ended') message(t('invigilator.s54', { message: msg.message }));
    else if (msg.type === 'error') message(msg.message || msg.reason || msg.code);
  };
  ws.onclose = (event) => {
    if (watchSocket === ws && openId === id && event.code !== 1000) {
      setTimeout(() => { if (watchSocket === ws && openId === id) watchSocket = openSocket(id); }, 2000);
    }
  };
  return ws;
}

function iceGathered(pc) {
  // the server does not trickle: the offer goes with its candidates
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, ICE_GATHER_MS);
  });
}

const LIVE_VIDEO_NOTE = t('invigilator.s55');

function stopVideo() {
  const pc = videoPc;
  videoPc = null;
  videoPlaying = false;
  if (pc) pc.close();
  const video = byTestId('detail-video');
  video.srcObject = null;
  video.hidden = true;
  byTestId('detail-live').hidden = false;
}

// Live video of the open tile: an offer to receive, answered by the server
// process that holds the candidate's camera. Any failure keeps the stills.
async function startVideo(id) {
  const pc = new RTCPeerConnection();
  videoPc = pc;
  const video = byTestId('detail-video');
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addEventListener('track', (event) => {
    if (videoPc === pc) video.srcObject = new MediaStream([event.track]);
  });
  pc.addEventListener('connectionstatechange', () => {
    if (videoPc === pc && ['failed', 'closed'].includes(pc.connectionState)) stopVideo();
  });
  video.onplaying = () => {
    if (videoPc !== pc) return;
    videoPlaying = true;
    video.hidden = false;
    byTestId('detail-live').hidden = true;
    byTestId('detail-live-note').textContent = LIVE_VIDEO_NOTE;
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    if (videoPc !== pc || openId !== id) return;
    const answer = await api('POST', `/api/invigilate/attempts/${id}/live-video`,
      { sdp: pc.localDescription.sdp, type: 'offer' });
    if (videoPc !== pc || openId !== id) return;
    await pc.setRemoteDescription(answer);
  } catch {
    if (videoPc === pc) stopVideo();
  }
}

async function refreshLive(id) {
  const img = byTestId('detail-live');
  const note = byTestId('detail-live-note');
  if (videoPlaying) {
    note.textContent = LIVE_VIDEO_NOTE;
    // the video plays: only the watch lease is renewed (the server closes
    // the video's peer when the last lease ends)
    api('POST', `/api/invigilate/attempts/${id}/watch`, { watched: true }).catch(() => {});
    if (openId === id) liveTimer = setTimeout(() => refreshLive(id), LIVE_MS * 2);
    return;
  }
  try {
    const res = await fetch(`/api/invigilate/attempts/${id}/live.jpg`, { credentials: 'same-origin' });
    // the video may have started while the still was on its way: it stays
    if (openId !== id || videoPlaying) return;
    if (res.ok) {
      const blob = await res.blob();
      if (openId !== id || videoPlaying) return;  // the video started meanwhile
      const url = URL.createObjectURL(blob);
      if (liveUrl) URL.revokeObjectURL(liveUrl);
      liveUrl = url;
      img.src = url;
      note.textContent = t('invigilator.s56', { v: new Date().toLocaleTimeString('zh-CN', { hour12: false }) });
    } else {
      const snap = sessions.get(id)?.cameras.pc.snapshot;
      if (snap) img.src = snap.image_url;
      note.textContent = snap ? t('invigilator.s57') : t('invigilator.s58');
    }
  } catch {
    note.textContent = t('invigilator.s58');
  } finally {
    if (openId === id) liveTimer = setTimeout(() => refreshLive(id), LIVE_MS);
  }
}

function openDetail(id) {
  if (openId === id) return;
  closeDetail();
  const s = sessions.get(id);
  openId = id;
  byTestId('detail').hidden = false;
  byTestId('detail-name').textContent = s.candidate.name;
  byTestId('detail-paper').textContent = `${s.class_name} · ${s.paper_title}`;
  byTestId('detail-timeline').href = `/static/attempt-timeline.html?attempt=${id}`;
  renderLedger(s.ledger);
  byTestId('detail-identity').hidden = true;
  refreshIdentity(id);
  byTestId('detail-state').replaceChildren();
  message('');
  watchSocket = openSocket(id);
  openContact(id);
  api('POST', `/api/invigilate/attempts/${id}/watch`, { watched: true }).catch(() => {});
  refreshLive(id);
  startVideo(id);
  document.querySelectorAll('.tile.open').forEach((n) => n.classList.remove('open'));
  document.querySelector(`[data-attempt="${id}"]`)?.classList.add('open');
}

function closeDetail() {
  if (openId === null) return;
  const id = openId;
  openId = null;
  closeContact();
  clearTimeout(liveTimer);
  if (watchSocket) { const ws = watchSocket; watchSocket = null; ws.close(1000, 'closed'); }
  if (liveUrl) { URL.revokeObjectURL(liveUrl); liveUrl = null; }
  stopVideo();
  byTestId('detail-live').removeAttribute('src');
  api('POST', `/api/invigilate/attempts/${id}/watch`, { watched: false }).catch(() => {});
  byTestId('detail').hidden = true;
  document.querySelectorAll('.tile.open').forEach((n) => n.classList.remove('open'));
}

byTestId('detail-close').addEventListener('click', closeDetail);
// Leaving the page releases the watch lease at once (else it lapses in 10 s).
window.addEventListener('pagehide', () => {
  if (openId === null) return;
  fetch(`/api/invigilate/attempts/${openId}/watch`, {
    method: 'POST', keepalive: true, credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
    body: JSON.stringify({ watched: false }),
  });
});
byTestId('warn-send').addEventListener('click', () => {
  const text = byTestId('warn-text').value.trim();
  if (!text) { message(t('invigilator.s60')); return; }
  command('warn', { text }, t('invigilator.s61'));
});
byTestId('end-send').addEventListener('click', () => {
  const reason = byTestId('end-reason').value.trim();
  if (!reason) { message(t('invigilator.s62')); return; }
  if (!confirm(t('invigilator.s63'))) return;
  command('end', { reason }, t('invigilator.s64'));
});
byTestId('identity-admit').addEventListener('click', () => decideIdentity('admit'));
byTestId('identity-refuse').addEventListener('click', () => decideIdentity('refuse'));

signedIn().then(() => {
  loadPresets();
  poll();
}).catch((err) => setError(byTestId('wall-error'), err.message));
