// Home page: the candidate's exam sittings (rule M1) — when, which room,
// from when the identity check opens, until when late entry is allowed,
// and what to prepare (rule D7). The administrator assigns sittings.
import { api } from './api.js';
import { byTestId, el } from './dom.js';
import { signedIn } from './page-session.js';
import { t } from './i18n.js';

const when = (iso) => new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });

function card(s) {
  return el('div', { class: 'sitting', testid: 'my-sitting', 'data-sitting-id': s.id },
    el('h3', { testid: 'my-sitting-title' }, t('home_sittings.my-sitting-title', { title: s.title, paper_title: s.paper_title })),
    el('p', {}, t('home_sittings.s2'), el('span', { testid: 'my-sitting-time' }, t('home_sittings.my-sitting-time', { v: when(s.starts_at), v2: when(s.ends_at) }))),
    el('p', {}, t('home_sittings.s4'), el('span', { testid: 'my-sitting-room' }, s.room || t('home_sittings.s5'))),
    el('p', { testid: 'my-sitting-window' },
      t('home_sittings.s6', { v: when(s.checkin_from), late_entry_min: s.late_entry_min, v2: when(s.entry_until), v3: when(s.ends_at) })),
    el('p', {}, t('home_sittings.s7')),
    el('ul', { testid: 'my-sitting-prepare' }, s.prepare.map((item) => el('li', {}, item))));
}

async function show() {
  const user = await signedIn();
  if (user.role !== 'candidate') return;
  const { sittings } = await api('GET', '/api/sittings/mine');
  const box = byTestId('my-sittings');
  box.replaceChildren(el('h2', {}, t('home_sittings.s8')), ...sittings.map(card));
  box.hidden = sittings.length === 0;
}

show().catch(() => { /* the home page works without it; the paper center still says why a paper is locked */ });
