// Home page: the candidate's exam sittings (rule M1) — when, which room,
// from when the identity check opens, until when late entry is allowed,
// and what to prepare (rule D7). The administrator assigns sittings.
import { api } from './api.js';
import { byTestId, el } from './dom.js';
import { signedIn } from './page-session.js';

const when = (iso) => new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });

function card(s) {
  return el('div', { class: 'sitting', testid: 'my-sitting', 'data-sitting-id': s.id },
    el('h3', { testid: 'my-sitting-title' }, `${s.title}：${s.paper_title}`),
    el('p', {}, '考试时间：', el('span', { testid: 'my-sitting-time' }, `${when(s.starts_at)} 至 ${when(s.ends_at)}（北京时间）`)),
    el('p', {}, '考场：', el('span', { testid: 'my-sitting-room' }, s.room || '待安排')),
    el('p', { testid: 'my-sitting-window' },
      `${when(s.checkin_from)} 起可进入考场进行设备检测和身份核验；开考后 ${s.late_entry_min} 分钟（${when(s.entry_until)}）停止入场；${when(s.ends_at)} 统一交卷。`),
    el('p', {}, '考前请准备：'),
    el('ul', { testid: 'my-sitting-prepare' }, s.prepare.map((item) => el('li', {}, item))));
}

async function show() {
  const user = await signedIn();
  if (user.role !== 'candidate') return;
  const { sittings } = await api('GET', '/api/sittings/mine');
  const box = byTestId('my-sittings');
  box.replaceChildren(el('h2', {}, '我的考试场次'), ...sittings.map(card));
  box.hidden = sittings.length === 0;
}

show().catch(() => { /* the home page works without it; the paper center still says why a paper is locked */ });
