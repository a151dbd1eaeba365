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

const POLL_MS = 2500;
const LIVE_MS = 1500;

const zh = {
  camera: { live: '正常', lost: '中断', asleep: '休眠', off: '未开启', unknown: '未连接' },
  device: { pc: '电脑', phone: '手机', screen: '屏幕' },
  status: { running: '考试中', waiting: '等待设备连接', ended: '已结束' },
  face: { none: '未检测到人脸', several: '多张人脸', one: '一张人脸', unknown: '人脸待检' },
  reason: {
    violation: '违规', away: '正在离开试卷', camera_lost: '摄像头中断', camera_asleep: '手机休眠',
    camera_off: '摄像头未开启', disconnected: '设备断线', heartbeat_stale: '心跳超时',
    no_face: '未检测到人脸', several_faces: '多张人脸', screen_lost: '屏幕共享中断',
    someone_else: '疑似非本人（连续抓拍）', nobody: '连续抓拍无人', identity_waiting: '人脸核验待人工处理',
  },
  identity: {
    checking: '人脸核验中', passed: '人脸核验通过', waiting: '人脸核验未通过，等待人工核验',
    admitted: '已人工核验通过', refused: '人工核验不通过',
  },
  kind: { tab_hidden: '切换页面或窗口', window_blur: '离开考试窗口', click_outside: '点击试卷以外区域' },
  endLabel: { submitted: '考生交卷', time_up: '时间到', fifth_violation: '违规满 5 次', invigilator: '监考员结束', abandoned: '设备长时间离线' },
};

let sessions = new Map();   // attempt id -> tile data of the last poll
let openId = null;          // the attempt shown in the detail panel
let watchSocket = null;
let liveTimer = null;
let liveUrl = null;
let videoPc = null;         // the live video's peer (rule L2), while the panel is open
let videoPlaying = false;
const ICE_GATHER_MS = 3000;

const ago = (s) => (s === null || s === undefined ? '无信号' : s < 60 ? `${Math.round(s)} 秒前` : `${Math.floor(s / 60)} 分钟前`);
const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

function cameraCell(cam) {
  return el('div', { class: `cam ${cam.camera}`, testid: `tile-cam-${cam.device}` },
    `${zh.device[cam.device]} ${zh.camera[cam.camera] ?? cam.camera}`,
    el('div', { class: 'meta' }, ago(cam.staleness_s)));
}

function thumb(cam) {
  const snap = cam.snapshot;
  if (!snap) return el('div', { class: 'meta' }, `${zh.device[cam.device]}暂无抓拍`);
  return el('div', {},
    el('img', { src: snap.image_url, alt: `${zh.device[cam.device]}抓拍`, loading: 'lazy', testid: `tile-thumb-${cam.device}` }),
    el('span', { class: `flag ${snap.face_flag}`, testid: `tile-face-${cam.device}` }, zh.face[snap.face_flag]));
}

// rules J1, J2: the screen share beside the two cameras
function screenCell(screen) {
  if (!screen) return '';
  return el('div', { class: `cam ${screen.state}`, testid: 'tile-cam-screen' },
    `屏幕 ${zh.camera[screen.state] ?? screen.state}`);
}

function screenThumb(screen) {
  const snap = screen && screen.snapshot;
  if (!snap) return el('div', { class: 'meta' }, '屏幕暂无抓拍');
  return el('div', {}, el('img', { src: snap.image_url, alt: '屏幕抓拍', loading: 'lazy', testid: 'tile-thumb-screen' }));
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
    el('span', { class: `viol${bad ? ' bad' : ''}`, testid: 'tile-violations' }, `违规 ${s.violations}/${s.max_violations}`)),
  el('div', { class: 'meta' }, el('span', { testid: 'tile-status' }, s.away ? '离开试卷中' : zh.status[s.status] ?? s.status),
    ` · 剩余 ${mmss(s.remaining_s)}`, s.warnings ? ` · 已警告 ${s.warnings} 次` : ''),
  el('div', { class: 'cams' }, cameraCell(s.cameras.pc), cameraCell(s.cameras.phone), screenCell(s.screen)),
  el('div', { class: 'thumbs' }, thumb(s.cameras.pc), thumb(s.cameras.phone), screenThumb(s.screen)),
  el('div', { class: 'reasons', testid: 'tile-reasons' }, s.risk_reasons.map((r) => zh.reason[r] ?? r).join('、')),
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
  byTestId('identity-state').textContent = `${zh.identity[check.state] ?? check.state}（已失败 ${check.failed} 次）`;
  byTestId('identity-state').dataset.state = check.state;
  const photo = byTestId('identity-photo');
  if (check.id_photo_url) photo.src = check.id_photo_url; else photo.removeAttribute('src');
  byTestId('identity-photo-note').textContent = check.id_photo_url ? '证件照' : '该考生没有证件照';
  const shot = byTestId('identity-frame');
  if (frame) shot.src = frame.image_url; else shot.removeAttribute('src');
  byTestId('identity-frame-note').textContent = frame ? `核验抓拍：${frame.message}` : '暂无核验抓拍';
  byTestId('identity-decide').hidden = !(check.state === 'waiting' || check.state === 'checking');
  box.hidden = check.state === 'checking' && check.tries.length === 0;
}

async function decideIdentity(decision) {
  const field = byTestId('identity-reason');
  const reason = field.value.trim();
  if (!reason) { message('请先填写人工核验的理由'); return; }
  if (decision === 'refuse' && !confirm('确定核验不通过吗？该考生的考试将被结束，此操作将被记录。')) return;
  const done = decision === 'admit' ? '已人工核验通过，考生可以答题' : '已核验不通过，考试已结束';
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
    byTestId('wall-count').textContent = `进行中 ${data.total} 人` + (data.total > data.sessions.length ? `（显示风险最高的 ${data.sessions.length} 人）` : '');
    byTestId('wall-rooms').textContent = data.rooms.length ? `考场：${data.rooms.map((r) => r.name).join('、')}` : '尚未分配考场';
    byTestId('wall-updated').textContent = `更新于 ${new Date().toLocaleTimeString('zh-CN', { hour12: false })}`;
    if (openId !== null && sessions.has(openId)) {
      renderLedger(sessions.get(openId).ledger);
      refreshIdentity(openId);  // rule I2: the open tile's face check, both pictures
    }
  } catch (err) {
    setError(byTestId('wall-error'), `刷新失败：${err.message}`);
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
    ['状态', st.status === 'ended' ? `已结束（${zh.endLabel[st.end_reason] ?? st.end_reason}）` : st.away ? '离开试卷中' : '考试中'],
    ['违规', `${st.violations}/${st.max_violations}`],
    ['剩余时间', mmss(st.remaining_s)],
  ];
  for (const [name, dev] of Object.entries(st.devices)) {
    rows.push([`${zh.device[name]}`, `${dev.connected ? '已连接' : '未连接'} · 摄像头${zh.camera[dev.camera] ?? dev.camera}`]);
  }
  if (st.screen) rows.push(['屏幕', `屏幕共享${zh.camera[st.screen.state] ?? st.screen.state}`]);  // rule J1
  byTestId('detail-state').replaceChildren(...rows.flatMap(([k, v]) => [el('span', { class: 'meta' }, k), el('span', { testid: `detail-${k}` }, v)]));
}

function renderLedger(ledger) {
  const list = byTestId('detail-ledger');
  list.replaceChildren(...(ledger.length ? ledger.map((v) => el('li', { class: v.forgiven ? 'forgiven' : '' },
    `第 ${v.index} 次 · ${zh.kind[v.kind] ?? v.kind} · ${v.duration_s} 秒 `,
    v.forgiven ? '（已撤销）' : el('button', { type: 'button', class: 'secondary', testid: `forgive-${v.index}`, onclick: () => forgive(v.index) }, '撤销'))) : []));
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
  if (!reason) { message('请先填写撤销违规的原因'); return; }
  // a reason is for one violation: the field is emptied once it has been used
  if (await command('forgive', { index, reason }, `已撤销第 ${index} 次违规`)) field.value = '';
}

function openSocket(id) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/invigilate?attempt=${id}`);
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (contactMessage(msg)) return;
    if (msg.type === 'state') renderState(msg);
    else if (msg.type === 'violation') message(`考生违规：第 ${msg.count}/${msg.max} 次`);
    else if (msg.type === 'ended') message(`考试已结束：${msg.message}`);
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

const LIVE_VIDEO_NOTE = '电脑摄像头实时视频';

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
      note.textContent = `电脑摄像头实时画面 · ${new Date().toLocaleTimeString('zh-CN', { hour12: false })}`;
    } else {
      const snap = sessions.get(id)?.cameras.pc.snapshot;
      if (snap) img.src = snap.image_url;
      note.textContent = snap ? '实时画面暂不可用，显示最近一次抓拍' : '实时画面暂不可用';
    }
  } catch {
    note.textContent = '实时画面暂不可用';
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
  if (!text) { message('请填写警告内容'); return; }
  command('warn', { text }, '警告已发送给考生');
});
byTestId('end-send').addEventListener('click', () => {
  const reason = byTestId('end-reason').value.trim();
  if (!reason) { message('请填写结束考试的原因'); return; }
  if (!confirm('确定结束该考生的考试吗？此操作将被记录。')) return;
  command('end', { reason }, '已结束该考生的考试');
});
byTestId('identity-admit').addEventListener('click', () => decideIdentity('admit'));
byTestId('identity-refuse').addEventListener('click', () => decideIdentity('refuse'));

signedIn().then(() => {
  loadPresets();
  poll();
}).catch((err) => setError(byTestId('wall-error'), err.message));
