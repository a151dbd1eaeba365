// Invigilator page, today's rooms (rules M1–M3): the rooms of today's
// sittings the invigilator holds, each candidate's attempt, extra time for
// one candidate or the whole room, and resume after a fault — each with a
// reason, audited by the server, which also does the arithmetic.
import { api } from './api.js';
import { byTestId, el } from './dom.js';

const REFRESH_MS = 10000;
const when = (iso) => new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
const STATUS = { not_started: '未入场', in_progress: '考试中', ended: '已结束' };
const ENDS = { submitted: '已交卷', time_up: '时间到', fifth_violation: '违规满5次', invigilator: '监考员结束', abandoned: '设备离线' };
const REOPENABLE = new Set(['abandoned', 'invigilator']);  // rule M3, as the server decides

function say(text) {
  const box = byTestId('rooms-msg');
  box.textContent = text;
  box.hidden = !text;
}

function reasonOrSay() {
  const reason = byTestId('extra-reason').value.trim();
  if (!reason) say('请先填写原因');
  return reason;
}

async function act(path, body, done) {
  try {
    const reply = await api('POST', path, body);
    say(done(reply));
    await refresh();
  } catch (err) {
    say(err.message);
  }
}

function grant(path) {
  const reason = reasonOrSay();
  if (!reason) return;
  const minutes = Number(byTestId('extra-minutes').value);
  act(path, { minutes, reason }, (reply) => (reply.results
    ? `已为 ${reply.extended} 名考试中的考生补时 ${minutes} 分钟`
    : `已补时 ${minutes} 分钟，新的结束时间 ${when(reply.deadline_at)}`));
}

function resume(attemptId) {
  const reason = reasonOrSay();
  if (!reason) return;
  act(`/api/invigilate/attempts/${attemptId}/resume`, { reason },
    (reply) => `考试已恢复，剩余 ${Math.round(reply.remaining_s / 60)} 分钟`);
}

function candidateRow(c) {
  const state = c.status === 'ended' ? `${STATUS.ended}（${ENDS[c.end_reason] ?? c.end_reason}）` : STATUS[c.status];
  const buttons = [];
  if (c.status === 'in_progress') {
    buttons.push(el('button', { type: 'button', class: 'secondary', testid: `extra-${c.attempt_id}`,
      onclick: () => grant(`/api/invigilate/attempts/${c.attempt_id}/extra-time`) }, '补时'));
  }
  if (c.status === 'ended' && REOPENABLE.has(c.end_reason)) {
    buttons.push(el('button', { type: 'button', class: 'secondary', testid: `resume-${c.attempt_id}`,
      onclick: () => resume(c.attempt_id) }, '恢复考试'));
  }
  return el('tr', { testid: 'room-row', 'data-user': c.username },
    el('td', {}, c.real_name), el('td', {}, c.username), el('td', { testid: 'room-row-state' }, state),
    el('td', {}, c.deadline_at && c.status === 'in_progress' ? when(c.deadline_at) : ''), el('td', {}, ...buttons));
}

function roomCard(room) {
  const s = room.sitting;
  return el('div', { class: 'room', testid: `room-${room.id}` },
    el('h3', {}, `${room.name} · ${s.title} · ${s.paper_title}`),
    el('p', { class: 'meta' }, `${when(s.starts_at)} 开考，${when(s.entry_until)} 停止入场，${when(s.ends_at)} 结束；${room.candidates.length} 名考生`),
    el('button', { type: 'button', testid: `room-extra-${room.id}`, onclick: () => grant(`/api/invigilate/rooms/${room.id}/extra-time`) }, '整个考场补时'),
    el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, ...['姓名', '用户名', '状态', '结束时间', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, room.candidates.map(candidateRow))));
}

async function refresh() {
  const { rooms } = await api('GET', '/api/invigilate/rooms');
  byTestId('room-list').replaceChildren(...rooms.map(roomCard));
  byTestId('my-rooms').hidden = rooms.length === 0;
}

async function loop() {
  try { await refresh(); } catch { /* shown again at the next try */ }
  setTimeout(loop, REFRESH_MS);
}

loop();
