// The reviewer's evidence timeline of one attempt (rules H3, H5, H6): events,
// violations with the snapshots of both cameras around each, every snapshot,
// the invigilators' commands and the end, on one time axis.
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { RecordingPlayer } from './recording-player.js';
import { axisTicks } from './time-axis.js';
import { t } from './i18n.js';

let player = null;  // rule K1: the recording, camera and screen side by side

const DEVICE = { pc: t('attempt_timeline.pc'), phone: t('attempt_timeline.phone'), screen: t('attempt_timeline.screen'), '': '' };
const SIDE_BY_SIDE = { pc: 0, phone: 1, screen: 2 };  // rule J2: camera, phone, screen
const FACE = { none: t('attempt_timeline.none'), several: t('attempt_timeline.several'), one: t('attempt_timeline.one'), unknown: t('attempt_timeline.unknown') };
const SNAP_REASON = { start: t('attempt_timeline.start'), random: t('attempt_timeline.random'), violation: t('attempt_timeline.violation'), return_to_page: t('attempt_timeline.return_to_page'), manual: t('attempt_timeline.manual'), identity: t('attempt_timeline.identity') };
const CAMERA = { live: t('attempt_timeline.live'), lost: t('attempt_timeline.lost'), asleep: t('attempt_timeline.asleep'), off: t('attempt_timeline.off'), stalled: t('attempt_timeline.lost'), ended: t('attempt_timeline.ended'), waiting: t('attempt_timeline.waiting') };

const clock = (t) => new Date(t * 1000).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
const when = (t) => new Date(t * 1000).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });

function snapshotFigure(s) {
  return el('span', { testid: `tl-snapshot-${s.id}` },
    el('img', { src: s.image_url, alt: t('attempt_timeline.s9', { v: DEVICE[s.device] }), loading: 'lazy' }),
    el('span', { class: `flag ${s.face_flag}` }, `${DEVICE[s.device]} · ${FACE[s.face_flag]}`),
    // rules I2, I3: compared with the ID photo (a score for people, never a verdict)
    s.face_match_label ? el('span', { class: `flag match ${s.face_match}`, testid: `tl-match-${s.id}` },
      t('attempt_timeline.s10', { face_match_label: s.face_match_label, v: s.face_distance === null ? '' : t('attempt_timeline.s31', { v: s.face_distance.toFixed(2) }) })) : '');
}

function eventText(e) {
  const d = e.data || {};
  if (e.kind === 'camera') return t('attempt_timeline.s11', { v: DEVICE[e.device], v2: CAMERA[d.state] ?? d.state });
  if (e.kind === 'screen') return t('attempt_timeline.s12', { v: CAMERA[d.state] ?? d.state });
  if (e.kind === 'focus') return d.state === 'lost' ? t('attempt_timeline.s13', { cause: d.cause }) : d.state === 'back' ? t('attempt_timeline.s14') : t('attempt_timeline.s15');
  if (e.kind === 'warning') return d.id ? t('attempt_timeline.warning_n', { id: d.id, v: d.text ?? '' }) : t('attempt_timeline.s16', { v: d.text ?? '' });
  // rule H4: the candidate pressed 我知道了; how long the warning waited for it
  if (e.kind === 'warning_ack') return t('attempt_timeline.warning_ack', { id: d.id, after_s: Math.round(d.after_s) });
  if (e.kind === 'outage_end') return t('attempt_timeline.s17', { v: DEVICE[e.device], duration_s: d.duration_s, v2: d.over_grace ? t('attempt_timeline.s2_2') : '' });
  if (e.kind === 'phone_end') return d.early ? t('attempt_timeline.s18') : t('attempt_timeline.s19');
  const device = DEVICE[e.device] ?? '';
  // labels that name their device already ("手机拍照") are not prefixed twice
  return e.label.startsWith(device) ? e.label : `${device}${e.label}`;
}

function itemRow(item, snapshots) {
  const time = el('span', { class: 'meta' }, clock(item.t));
  if (item.type === 'violation') {
    const around = item.snapshot_ids.map((id) => snapshots.get(id)).filter(Boolean)
      .sort((a, b) => (SIDE_BY_SIDE[a.device] ?? 9) - (SIDE_BY_SIDE[b.device] ?? 9));
    const play = el('button', { type: 'button', class: 'play', testid: `tl-play-${item.index}`, onclick: () => player && player.seek(item.t) }, t('attempt_timeline.s20'));
    return el('li', { class: 'violation', testid: `tl-violation-${item.index}` }, time, el('div', {},
      el('strong', {}, t('attempt_timeline.s21', { index: item.index, label: item.label })), t('attempt_timeline.s22', { duration_s: item.duration_s }), play,
      item.forgiven ? el('div', { class: 'meta' }, t('attempt_timeline.s23', { v: item.forgiven_by ?? t('attempt_timeline.s3'), v2: item.forgive_reason ?? '' })) : '',
      el('div', {}, around.length ? around.map(snapshotFigure) : el('span', { class: 'meta' }, t('attempt_timeline.s24')))));
  }
  if (item.type === 'snapshot') {
    return el('li', { class: 'snapshot' }, time, el('div', {}, t('attempt_timeline.s25', { v: SNAP_REASON[item.reason] ?? item.reason }), snapshotFigure(item)));
  }
  if (item.type === 'action') {
    return el('li', { class: 'action', testid: `tl-action-${item.id}` }, time,
      el('div', {}, t('attempt_timeline.s26', { v: item.by.real_name || item.by.username, label: item.label }), item.reason ? t('attempt_timeline.s27', { reason: item.reason }) : '',
        item.detail && item.detail.text ? t('attempt_timeline.s28', { text: item.detail.text }) : ''));
  }
  if (item.type === 'identity_flag') {
    const shots = item.snapshot_ids.map((id) => snapshots.get(id)).filter(Boolean);
    return el('li', { class: 'violation identity-flag', testid: 'tl-identity-flag' }, time, el('div', {},
      el('strong', {}, t('attempt_timeline.s29', { label: item.label, length: item.snapshot_ids.length })),
      el('div', { class: 'meta' }, t('attempt_timeline.s30')),
      el('div', {}, shots.map(snapshotFigure))));
  }
  if (item.type === 'message') {  // rule L1: contact in both directions
    const who = item.from === 'candidate' ? t('attempt_timeline.s31', { v: DEVICE[item.device] ?? '' }) : '';
    return el('li', { class: `message from-${item.from}`, testid: `tl-message-${item.index}` }, time,
      el('div', {}, t('attempt_timeline.s32', { label: item.label, who }), item.text));
  }
  if (item.type === 'end') return el('li', { class: 'end', testid: 'tl-end' }, time, el('strong', {}, t('attempt_timeline.s33', { label: item.label })));
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
    const title = i.type === 'violation' ? t('attempt_timeline.s34', { index: i.index, v: clock(i.t) }) : `${i.label ?? i.reason ?? ''} ${clock(i.t)}`;
    return el('span', { class: `mark ${i.type}${i.forgiven ? ' forgiven' : ''}`, style, title });
  });
  // issue #14: the axis is labelled, clock time above minutes since the start
  const ticks = axisTicks(start, end).map((k, i) => el('span', { class: 'tick', style: `left:${100 * k.at}%`, testid: `tl-tick-${i}` },
    el('span', { class: 'tick-clock' }, k.clock), el('span', { class: 'tick-minute' }, t('attempt_timeline.s35', { minute: k.minute }))));
  byTestId('timeline-axis').replaceChildren(...marks, ...ticks);
}

async function load() {
  const id = new URLSearchParams(location.search).get('attempt');
  if (!id || !/^\d+$/.test(id)) { setError(byTestId('timeline-error'), t('attempt_timeline.s36')); return; }
  const data = await api('GET', `/api/attempts/${id}/timeline`);
  const a = data.attempt;
  byTestId('timeline-title').textContent = t('attempt_timeline.s37', { real_name: a.candidate.real_name, username: a.candidate.username });
  const hb = data.heartbeats || {};
  const summary = [
    [t('attempt_timeline.s38'), `${a.class_name} · ${a.paper_title}`],
    [t('attempt_timeline.s39'), when(a.started_t)],
    [t('attempt_timeline.s40'), data.end ? t('attempt_timeline.s41', { v: when(data.end.t), label: data.end.label }) : t('attempt_timeline.s42')],
    [t('attempt_timeline.s43'), a.score === null ? '—' : t('attempt_timeline.s44', { score: a.score, v: a.outcome_label ?? '' })],
    [t('attempt_timeline.violation'), t('attempt_timeline.s46', { v: data.violations.filter((v) => !v.forgiven).length, v2: data.violations.filter((v) => v.forgiven).length })],
    [t('result_review.s13'), t('attempt_timeline.s48', { length: data.snapshots.length })],
    [t('attempt_timeline.s49'), t('attempt_timeline.s50', { v: hb.pc ?? 0, v2: hb.phone ?? 0 })],
  ];
  byTestId('timeline-summary').replaceChildren(...summary.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { testid: `timeline-${k}` }, v)]));
  const snapshots = new Map(data.snapshots.map((s) => [s.id, s]));
  drawAxis(data);
  byTestId('timeline-violations').replaceChildren(...(data.violations.length
    ? data.violations.map((v) => itemRow({ type: 'violation', ...v }, snapshots)) : [el('li', { class: 'meta' }, t('attempt_timeline.s51'))]));
  byTestId('timeline-list').replaceChildren(...data.items.map((i) => itemRow(i, snapshots)));
  player = new RecordingPlayer(byTestId('timeline-recording'), id);
  await player.load();
}

// rule H7: the record's hash chain, verified by the server now
async function loadChain(id) {
  const node = byTestId('timeline-chain');
  try {
    const c = await api('GET', `/api/attempts/${id}/chain`);
    node.textContent = c.ok ? t('attempt_timeline.s52', { label: c.label, records: c.records, v: c.head.slice(0, 16) }) : c.label;
    node.className = c.ok ? 'chain ok' : 'chain broken';
  } catch (err) {
    node.textContent = t('attempt_timeline.s53', { message: err.message });
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
