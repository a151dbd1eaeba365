// The invigilator wall's part of two-way contact (rule L1):
//
// - a tile whose candidate called (呼叫监考员) is lit, and arrives first from
//   the server (exam_api/wall.py sort_key) until an invigilator answers; a
//   new raised hand plays a short sound (WebAudio, no file);
// - the detail panel shows the conversation (GET …/messages, then live over
//   the panel's watch socket), a reply with the administrators' preset texts,
//   and "已处理呼叫" (…/answered);
// - the bar has a message to a whole room (POST /api/invigilate/rooms/{id}/messages).
import { api } from './api.js';
import { byTestId, el } from './dom.js';
import { t } from './i18n.js';

const zh = {
  hand: t('wall_contact.hand'),
  waiting: t('wall_contact.waiting'),
  from: { candidate: t('result_review.s9'), invigilator: t('attempt_timeline.s3') },
  device: { pc: t('attempt_timeline.pc'), phone: t('attempt_timeline.phone') },
  room: t('wall_contact.room'),
  preset: t('wall_contact.preset'),
  noMessages: t('wall_contact.noMessages'),
};

let raised = new Set();     // attempts whose hand was up at the last poll
let presets = [];
let openId = null;
let conversation = new Map();  // index → message of the open attempt

// ----- tiles ---------------------------------------------------------------------

// The tile's contact line, and its attributes (lit while a hand is up).
export function tileContact(s) {
  const c = s.contact;
  if (!c) return { attrs: {}, node: null };
  const text = c.hand_raised ? zh.hand : t('wall_contact.s1', { waiting: zh.waiting, last_text: c.last_text });
  return {
    attrs: { 'data-hand': c.hand_raised ? 'true' : null, 'data-waiting': 'true' },
    node: el('div', { class: `contact-line${c.hand_raised ? ' hand' : ''}`, testid: 'tile-contact' }, text),
  };
}

// After each poll: a sound for each hand newly raised.
export function noticeHands(sessions) {
  const now = new Set(sessions.filter((s) => s.contact?.hand_raised).map((s) => s.attempt_id));
  const fresh = [...now].filter((id) => !raised.has(id));
  raised = now;
  if (fresh.length) ring();
}

let audio = null;
function ring() {
  // the count is for the page's tests: the sound itself cannot be asserted
  document.body.dataset.handSounds = String(Number(document.body.dataset.handSounds || 0) + 1);
  try {
    audio = audio || new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.6);
  } catch { /* no audio device: the lit tile still shows it */ }
}

// ----- presets -------------------------------------------------------------------

export async function loadPresets() {
  try {
    presets = (await api('GET', '/api/invigilate/presets')).presets;
  } catch { presets = []; }
  for (const id of ['reply-preset', 'room-preset']) fillPresets(byTestId(id), id === 'reply-preset' ? 'reply-text' : 'room-text');
}

function fillPresets(select, target) {
  if (!select) return;
  select.replaceChildren(el('option', { value: '' }, zh.preset), ...presets.map((p) => el('option', { value: p }, p)));
  select.onchange = () => {
    if (select.value) byTestId(target).value = select.value;
    select.value = '';
  };
}

// ----- the detail panel ------------------------------------------------------------

function note(text) {
  const node = byTestId('contact-status');
  node.textContent = text;
  node.hidden = !text;
}

function renderConversation() {
  const items = [...conversation.values()].sort((a, b) => a.index - b.index);
  const list = byTestId('conversation');
  list.replaceChildren(...(items.length ? items.map((m) => el('li', {
    testid: 'conversation-message', 'data-from': m.from, 'data-kind': m.kind,
  }, el('b', {}, t('wall_contact.s2', { v: zh.from[m.from], v2: m.device ? t('attempt_timeline.s31', { v: zh.device[m.device] }) : '', v3: m.scope === 'room' ? zh.room : '' })), m.text))
    : [el('li', { class: 'meta' }, zh.noMessages)]));
  list.scrollTop = list.scrollHeight;
}

export async function openContact(id) {
  openId = id;
  conversation = new Map();
  note('');
  renderConversation();
  try {
    const data = await api('GET', `/api/invigilate/attempts/${id}/messages`);
    if (openId !== id) return;
    for (const m of data.messages) conversation.set(m.index, m);
    renderConversation();
  } catch (err) { note(err.message); }
}

export function closeContact() { openId = null; }

// A server message on the panel's watch socket; true when it was contact's.
export function contactMessage(msg) {
  if (msg.type !== 'message') return false;
  conversation.set(msg.index, msg);
  renderConversation();
  return true;
}

async function reply() {
  const field = byTestId('reply-text');
  const text = field.value.trim();
  if (!text) { note(t('wall_contact.s3')); return; }
  try {
    const data = await api('POST', `/api/invigilate/attempts/${openId}/messages`, { text });
    contactMessage(data.message);
    field.value = '';
    note(t('wall_contact.s4'));
  } catch (err) { note(err.message); }
}

async function answered() {
  try {
    const data = await api('POST', `/api/invigilate/attempts/${openId}/answered`);
    contactMessage(data.message);
    note(t('wall_contact.s5'));
  } catch (err) { note(err.message); }
}

// ----- the room message ----------------------------------------------------------------

export function renderRooms(rooms) {
  const select = byTestId('room-select');
  const keep = select.value;
  select.replaceChildren(...rooms.map((r) => el('option', { value: r.id }, r.name)));
  if (rooms.some((r) => String(r.id) === keep)) select.value = keep;
  byTestId('room-message').hidden = rooms.length === 0;
}

async function sendRoom() {
  const field = byTestId('room-text');
  const text = field.value.trim();
  const status = byTestId('room-status');
  if (!text) { status.textContent = t('wall_contact.s6'); return; }
  const room = byTestId('room-select');
  try {
    const data = await api('POST', `/api/invigilate/rooms/${room.value}/messages`, { text });
    field.value = '';
    status.textContent = t('wall_contact.s7', { sent: data.sent });
  } catch (err) { status.textContent = err.message; }
}

byTestId('reply-send').addEventListener('click', reply);
byTestId('answered-send').addEventListener('click', answered);
byTestId('room-send').addEventListener('click', sendRoom);
