// Administrator page, sittings and rooms (rule M1): schedule a sitting of a
// paper, assign its candidates (the administrator assigns; no self-booking),
// fill rooms of at most 30 automatically, then edit rooms and invigilators.
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { t } from './i18n.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');
const beijing = (value) => (value ? `${value}:00+08:00` : null);
const names = (text) => text.split(/[\s,\uff0c\u3001]+/).map((s) => s.trim()).filter(Boolean);
let selected = null;

function notify(message) {
  setError(byTestId('sitting-error'), '');
  const box = byTestId('sitting-message');
  box.textContent = message;
  box.hidden = !message;
}

function guard(fn) {
  return async (event) => {
    event?.preventDefault?.();
    try { await fn(event); } catch (err) {
      byTestId('sitting-message').hidden = true;
      setError(byTestId('sitting-error'), err.message);
    }
  };
}

async function loadPapers() {
  const { papers } = await api('GET', '/api/admin/papers');
  const select = byTestId('sitting-paper');
  const keep = select.value;
  select.replaceChildren(...papers.map((p) => el('option', { value: p.id },
    t('admin_sittings.s1', { class_name: p.class_name, v: p.kind === 'mock' ? t('admin.s3') : t('admin.s4'), title: p.title }))));
  if (papers.some((p) => String(p.id) === keep)) select.value = keep;
}

async function loadSittings() {
  const { sittings } = await api('GET', '/api/admin/sittings');
  byTestId('sitting-list').querySelector('tbody').replaceChildren(...sittings.map((s) => el('tr', { testid: 'sitting-row', 'data-sitting-id': s.id },
    el('td', {}, s.title), el('td', {}, s.paper_title), el('td', {}, when(s.starts_at)), el('td', {}, when(s.ends_at)),
    el('td', {}, `${s.candidates}/${s.capacity}`), el('td', {}, String(s.rooms)), el('td', {}, String(s.unplaced)),
    el('td', {},
      el('button', { type: 'button', class: 'secondary', testid: `sitting-open-${s.id}`, onclick: guard(() => openSitting(s.id)) }, t('admin_sittings.s2')),
      el('button', { type: 'button', class: 'danger', onclick: guard(async () => {
        await api('DELETE', `/api/admin/sittings/${s.id}`);
        notify(t('admin_sittings.s3'));
        if (selected === s.id) byTestId('sitting-detail').hidden = true;
        await loadSittings();
      }) }, t('admin.s125')),
      // issue #14: the sitting's results in charts
      ' ', el('a', { href: `/static/results.html?sitting=${s.id}`, testid: `sitting-results-${s.id}` }, t('nav.results'))))));
}

function roomTable(detail) {
  const sid = detail.sitting.id;
  const roomChoice = (current, userId) => {
    const select = el('select', { testid: `move-${userId}`, onchange: guard(async (event) => {
      const value = event.target.value;
      render(await api('PUT', `/api/admin/sittings/${sid}/candidates/${userId}/room`, { room_id: value ? Number(value) : null }));
      notify(t('admin_sittings.s5'));
      await loadSittings();
    }) },
    el('option', { value: '' }, t('admin.s53')),
    ...detail.rooms.map((r) => el('option', { value: r.id, selected: r.id === current }, r.name)));
    return select;
  };
  const person = (p, roomId) => el('li', { testid: 'room-candidate' }, t('admin_sittings.room-candidate', { real_name: p.real_name, username: p.username }), roomChoice(roomId, p.id),
    el('button', { type: 'button', class: 'link', onclick: guard(async () => {
      await api('DELETE', `/api/admin/sittings/${sid}/candidates/${p.id}`);
      notify(t('admin_sittings.s8'));
      await openSitting(sid); await loadSittings();
    }) }, t('admin_sittings.s9')));
  const rooms = detail.rooms.map((r) => {
    const input = el('input', { value: r.invigilator ? r.invigilator.username : '', maxlength: 64, size: 14, testid: `room-invigilator-${r.id}` });
    return el('div', { class: 'admin-room', testid: 'room', 'data-room-id': r.id },
      el('h4', { testid: 'room-name' }, t('admin_sittings.room-name', { name: r.name, length: r.candidates.length })),
      el('p', {}, t('admin_sittings.s11'), el('span', { testid: 'room-invigilator' }, r.invigilator ? t('result_review.s24', { real_name: r.invigilator.real_name, username: r.invigilator.username }) : t('admin_sittings.s13')), ' ', input,
        el('button', { type: 'button', class: 'secondary', testid: `room-set-invigilator-${r.id}`, onclick: guard(async () => {
          await api('PUT', `/api/admin/rooms/${r.id}`, { invigilator: input.value.trim() || null });
          notify(t('admin_sittings.s14', { name: r.name }));
          await openSitting(sid);
        }) }, t('admin_sittings.s15'))),
      el('ul', {}, r.candidates.map((p) => person(p, r.id))));
  });
  const unplaced = detail.unplaced.length
    ? el('div', { testid: 'unplaced' }, el('h4', {}, t('admin_sittings.s16', { length: detail.unplaced.length })), el('ul', {}, detail.unplaced.map((p) => person(p, null))))
    : null;
  return [...rooms, unplaced];
}

function render(detail) {
  const s = detail.sitting;
  byTestId('sitting-detail').hidden = false;
  byTestId('sitting-detail-title').textContent =
    t('admin_sittings.s17', { title: s.title, paper_title: s.paper_title, v: when(s.starts_at), v2: when(s.checkin_from), v3: when(s.entry_until), v4: when(s.ends_at) });
  byTestId('sitting-rooms').replaceChildren(...roomTable(detail));
}

async function openSitting(sittingId) {
  selected = sittingId;
  render(await api('GET', `/api/admin/sittings/${sittingId}/rooms`));
}

byTestId('sitting-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const created = await api('POST', '/api/admin/sittings', {
    paper_id: Number(form.paper_id.value), title: form.title.value, capacity: Number(form.capacity.value),
    starts_at: beijing(form.starts_at.value), ends_at: beijing(form.ends_at.value),
    late_entry_min: Number(form.late_entry_min.value || 0), checkin_min: Number(form.checkin_min.value || 0),
  });
  notify(t('admin_sittings.s18', { title: created.title }));
  form.title.value = '';
  await loadSittings();
  await openSitting(created.id);
}));

async function addCandidates(body) {
  const result = await api('POST', `/api/admin/sittings/${selected}/candidates`, body);
  notify(t('admin_sittings.s19', { length: result.added.length, v: result.skipped.length ? t('admin_sittings.s3_2', { length: result.skipped.length }) : '' }));
  await openSitting(selected);
  await loadSittings();
}

byTestId('sitting-candidates-form').addEventListener('submit', guard(async (event) => {
  const list = names(event.target.usernames.value);
  if (!list.length) throw new Error(t('admin_sittings.s20'));
  await addCandidates({ usernames: list });
  event.target.usernames.value = '';
}));
byTestId('sitting-add-class').addEventListener('click', guard(() => addCandidates({ whole_class: true })));

byTestId('sitting-fill-form').addEventListener('submit', guard(async (event) => {
  const result = await api('POST', `/api/admin/sittings/${selected}/rooms/fill`, { invigilators: names(event.target.invigilators.value) });
  render(result);
  notify(t('admin_sittings.s21', { placed: result.placed, new_rooms: result.new_rooms }));
  await loadSittings();
}));

// admin.js creates papers: the choice is read again whenever it is opened
byTestId('sitting-paper').addEventListener('focus', guard(loadPapers));

signedIn().then(() => Promise.all([loadPapers(), loadSittings()])).catch((err) => setError(byTestId('sitting-error'), err.message));
