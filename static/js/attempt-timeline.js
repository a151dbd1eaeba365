// The reviewer's evidence timeline of one attempt (rules H3, H5, H6): events,
// violations with the snapshots of both cameras around each, every snapshot,
// the invigilators' commands and the end, on one time axis.
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { RecordingPlayer } from './recording-player.js';

let player = null;  // rule K1: the recording, camera and screen side by side

const DEVICE = { pc: '电脑', phone: '手机', screen: '屏幕', '': '' };
const SIDE_BY_SIDE = { pc: 0, phone: 1, screen: 2 };  // rule J2: camera, phone, screen
const FACE = { none: '未检测到人脸', several: '多张人脸', one: '一张人脸', unknown: '人脸待检' };
const SNAP_REASON = { start: '开考', random: '随机', violation: '违规', return_to_page: '返回页面', manual: '人工', identity: '人脸核验' };
const CAMERA = { live: '正常', lost: '中断', asleep: '休眠', off: '未开启', stalled: '中断', ended: '已关闭', waiting: '等待画面' };

const clock = (t) => new Date(t * 1000).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
const when = (t) => new Date(t * 1000).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });

function snapshotFigure(s) {
  return el('span', { testid: `tl-snapshot-${s.id}` },
    el('img', { src: s.image_url, alt: `${DEVICE[s.device]}抓拍`, loading: 'lazy' }),
    el('span', { class: `flag ${s.face_flag}` }, `${DEVICE[s.device]} · ${FACE[s.face_flag]}`),
    // rules I2, I3: compared with the ID photo (a score for people, never a verdict)
    s.face_match_label ? el('span', { class: `flag match ${s.face_match}`, testid: `tl-match-${s.id}` },
      `比对：${s.face_match_label}${s.face_distance === null ? '' : `（${s.face_distance.toFixed(2)}）`}`) : '');
}

function eventText(e) {
  const d = e.data || {};
  if (e.kind === 'camera') return `${DEVICE[e.device]}摄像头：${CAMERA[d.state] ?? d.state}`;
  if (e.kind === 'screen') return `屏幕共享：${CAMERA[d.state] ?? d.state}`;
  if (e.kind === 'focus') return d.state === 'lost' ? `离开试卷（${d.cause}）` : d.state === 'back' ? '回到试卷' : '点击试卷以外区域';
  if (e.kind === 'warning') return `监考员警告${d.id ? ` #${d.id}` : ''}：${d.text ?? ''}`;
  // rule H4: the candidate pressed 我知道了; how long the warning waited for it
  if (e.kind === 'warning_ack') return `考生已确认监考员警告 #${d.id}（${Math.round(d.after_s)} 秒后确认）`;
  if (e.kind === 'outage_end') return `${DEVICE[e.device]}重新连接（断线 ${d.duration_s} 秒${d.over_grace ? '，超过宽限' : ''}）`;
  if (e.kind === 'phone_end') return d.early ? '手机端提前结束监控' : '手机端结束监控';
  const device = DEVICE[e.device] ?? '';
  // labels that name their device already ("手机拍照") are not prefixed twice
  return e.label.startsWith(device) ? e.label : `${device}${e.label}`;
}

function itemRow(item, snapshots) {
  const time = el('span', { class: 'meta' }, clock(item.t));
  if (item.type === 'violation') {
    const around = item.snapshot_ids.map((id) => snapshots.get(id)).filter(Boolean)
      .sort((a, b) => (SIDE_BY_SIDE[a.device] ?? 9) - (SIDE_BY_SIDE[b.device] ?? 9));
    const play = el('button', { type: 'button', class: 'play', testid: `tl-play-${item.index}`, onclick: () => player && player.seek(item.t) }, '播放录像');
    return el('li', { class: 'violation', testid: `tl-violation-${item.index}` }, time, el('div', {},
      el('strong', {}, `第 ${item.index} 次违规：${item.label}`), `，持续 ${item.duration_s} 秒 `, play,
      item.forgiven ? el('div', { class: 'meta' }, `已由${item.forgiven_by ?? '监考员'}撤销：${item.forgive_reason ?? ''}`) : '',
      el('div', {}, around.length ? around.map(snapshotFigure) : el('span', { class: 'meta' }, '本次违规无抓拍'))));
  }
  if (item.type === 'snapshot') {
    return el('li', { class: 'snapshot' }, time, el('div', {}, `${SNAP_REASON[item.reason] ?? item.reason}抓拍 `, snapshotFigure(item)));
  }
  if (item.type === 'action') {
    return el('li', { class: 'action', testid: `tl-action-${item.id}` }, time,
      el('div', {}, `${item.by.real_name || item.by.username}：${item.label}`, item.reason ? `（原因：${item.reason}）` : '',
        item.detail && item.detail.text ? `：“${item.detail.text}”` : ''));
  }
  if (item.type === 'identity_flag') {
    const shots = item.snapshot_ids.map((id) => snapshots.get(id)).filter(Boolean);
    return el('li', { class: 'violation identity-flag', testid: 'tl-identity-flag' }, time, el('div', {},
      el('strong', {}, `身份提示：${item.label}（${item.snapshot_ids.length} 张）`),
      el('div', { class: 'meta' }, '提示不会结束考试，由监考员和审核员判断。'),
      el('div', {}, shots.map(snapshotFigure))));
  }
  if (item.type === 'message') {  // rule L1: contact in both directions
    const who = item.from === 'candidate' ? `（${DEVICE[item.device] ?? ''}）` : '';
    return el('li', { class: `message from-${item.from}`, testid: `tl-message-${item.index}` }, time,
      el('div', {}, `${item.label}${who}：`, item.text));
  }
  if (item.type === 'end') return el('li', { class: 'end', testid: 'tl-end' }, time, el('strong', {}, `考试结束：${item.label}`));
  if (item.type === 'start') return el('li', { class: 'start' }, time, el('strong', {}, item.label));
  return el('li', { class: 'event' }, time, el('div', {}, eventText(item)));
}

function drawAxis(data) {
  const a = data.attempt;
  const start = a.started_t;
  const end = Math.max(a.ended_t ?? Date.now() / 1000, ...data.items.map((i) => i.t), start + 1);
  const x = (t) => `${(100 * (t - start)) / (end - start)}%`;
  const marks = data.items.filter((i) => ['violation', 'snapshot', 'action', 'identity_flag', 'end'].includes(i.type)).map((i) => {
    const style = i.type === 'violation' ? `left:${x(i.t)};width:${x(start + Math.max(i.duration_s, 0))}` : `left:${x(i.t)}`;
    const title = i.type === 'violation' ? `第 ${i.index} 次违规 ${clock(i.t)}` : `${i.label ?? i.reason ?? ''} ${clock(i.t)}`;
    return el('span', { class: `mark ${i.type}${i.forgiven ? ' forgiven' : ''}`, style, title });
  });
  byTestId('timeline-axis').replaceChildren(...marks);
}

async function load() {
  const id = new URLSearchParams(location.search).get('attempt');
  if (!id || !/^\d+$/.test(id)) { setError(byTestId('timeline-error'), '缺少考试记录编号'); return; }
  const data = await api('GET', `/api/attempts/${id}/timeline`);
  const a = data.attempt;
  byTestId('timeline-title').textContent = `证据时间轴：${a.candidate.real_name}（${a.candidate.username}）`;
  const hb = data.heartbeats || {};
  const summary = [
    ['考试', `${a.class_name} · ${a.paper_title}`],
    ['开始', when(a.started_t)],
    ['结束', data.end ? `${when(data.end.t)}（${data.end.label}）` : '进行中'],
    ['成绩', a.score === null ? '—' : `${a.score}（${a.outcome_label ?? ''}）`],
    ['违规', `${data.violations.filter((v) => !v.forgiven).length} 次（另有 ${data.violations.filter((v) => v.forgiven).length} 次已撤销）`],
    ['抓拍', `${data.snapshots.length} 张`],
    ['心跳', `电脑 ${hb.pc ?? 0} 次，手机 ${hb.phone ?? 0} 次`],
  ];
  byTestId('timeline-summary').replaceChildren(...summary.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { testid: `timeline-${k}` }, v)]));
  const snapshots = new Map(data.snapshots.map((s) => [s.id, s]));
  drawAxis(data);
  byTestId('timeline-violations').replaceChildren(...(data.violations.length
    ? data.violations.map((v) => itemRow({ type: 'violation', ...v }, snapshots)) : [el('li', { class: 'meta' }, '无违规记录')]));
  byTestId('timeline-list').replaceChildren(...data.items.map((i) => itemRow(i, snapshots)));
  player = new RecordingPlayer(byTestId('timeline-recording'), id);
  await player.load();
}

// rule H7: the record's hash chain, verified by the server now
async function loadChain(id) {
  const node = byTestId('timeline-chain');
  try {
    const c = await api('GET', `/api/attempts/${id}/chain`);
    node.textContent = c.ok ? `${c.label}（${c.records} 条记录，链头 ${c.head.slice(0, 16)}…）` : c.label;
    node.className = c.ok ? 'chain ok' : 'chain broken';
  } catch (err) {
    node.textContent = `记录未能校验：${err.message}`;
    node.className = 'chain broken';
  }
}

// rule M4: the evidence bundle, for reviewers and administrators
function bundleLink(id, user) {
  const link = byTestId('timeline-bundle');
  link.href = `/api/attempts/${id}/evidence.zip`;
  link.download = `attempt-${id}-evidence.zip`;
  link.hidden = !['reviewer', 'admin'].includes(user.role);
}

signedIn().then(async (user) => {
  const id = new URLSearchParams(location.search).get('attempt');
  await load();
  if (id && /^\d+$/.test(id)) {
    bundleLink(id, user);
    await loadChain(id);
  }
}).catch((err) => setError(byTestId('timeline-error'), err.message));
