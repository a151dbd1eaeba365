// Invigilator page, today's rooms (rules M1–M3): the rooms of today's
// sittings the invigilator holds, each candidate's attempt, extra time for
// one candidate or the whole room, and resume after a fault — each with a
// reason, audited by the server, which also does the arithmetic.
import { api } from './api.js';
import { byTestId, el } from './dom.js';
import { t } from './i18n.js';

const REFRESH_MS = 10000;
const when = (iso) => new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
const STATUS = { not_started: t('invigilator_rooms.not_started'), in_progress: t('invigilator.running'), ended: t('invigilator.ended') };
const ENDS = { submitted: t('invigilator_rooms.submitted'), time_up: t('invigilator.time_up'), fifth_violation: t('invigilator_rooms.fifth_violation'), invigilator: t('invigilator.invigilator'), abandoned: t('invigilator_rooms.abandoned') };
const REOPENABLE = new Set(['abandoned', 'invigilator']);  // rule M3, as the server decides

function say(text) {
  const box = byTestId('rooms-msg');
  box.textContent = text;
  box.hidden = !text;
}

function reasonOrSay() {
  const reason = byTestId('extra-reason').value.trim();
  if (!reason) say(t('invigilator_rooms.s1'));
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
    ? t('invigilator_rooms.s2', { extended: reply.extended, minutes })
    : t('invigilator_rooms.s3', { minutes, v: when(reply.deadline_at) })));
}

function resume(attemptId) {
  const reason = reasonOrSay();
  if (!reason) return;
  act(`/api/invigilate/attempts/${attemptId}/resume`, { reason },
    (reply) => t('invigilator_rooms.s4', { v: Math.round(reply.remaining_s / 60) }));
}

function candidateRow(c) {
  const state = c.status === 'ended' ? t('invigilator_rooms.s5', { ended: STATUS.ended, v: ENDS[c.end_reason] ?? c.end_reason }) : STATUS[c.status];
  const buttons = [];
  if (c.status === 'in_progress') {
    buttons.push(el('button', { type: 'button', class: 'secondary', testid: `extra-${c.attempt_id}`,
      onclick: () => grant(`/api/invigilate/attempts/${c.attempt_id}/extra-time`) }, t('invigilator_rooms.s6')));
  }
  if (c.status === 'ended' && REOPENABLE.has(c.end_reason)) {
    buttons.push(el('button', { type: 'button', class: 'secondary', testid: `resume-${c.attempt_id}`,
      onclick: () => resume(c.attempt_id) }, t('invigilator_rooms.s7')));
  }
  return el('tr', { testid: 'room-row', 'data-user': c.username },
    el('td', {}, c.real_name), el('td', {}, c.username), el('td', { testid: 'room-row-state' }, state),
    el('td', {}, c.deadline_at && c.status === 'in_progress' ? when(c.deadline_at) : ''), el('td', {}, ...buttons));
}

function roomCard(room) {
  const s = room.sitting;
  return el('div', { class: 'room', testid: `room-${room.id}` },
    el('h3', {}, `${room.name} · ${s.title} · ${s.paper_title}`),
    el('p', { class: 'meta' }, t('invigilator_rooms.s8', { v: when(s.starts_at), v2: when(s.entry_until), v3: when(s.ends_at), length: room.candidates.length })),
    el('button', { type: 'button', testid: `room-extra-${room.id}`, onclick: () => grant(`/api/invigilate/rooms/${room.id}/extra-time`) }, t('invigilator_rooms.s9')),
    el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, ...[t('reviewer.s11'), t('login.username'), t('records.s15'), t('result_review.s14'), ''].map((h) => el('th', {}, h)))),
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
