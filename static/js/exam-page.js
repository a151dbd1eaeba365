// The PC paper page: answering (exam.js). The camera (rule E1) and the hub
// websocket modules hook in here: they get the ExamPage and call
// page.refresh() when the hub reports the end.
import { api } from './api.js';
import { ExamPage } from './exam.js';

const attemptId = Number(new URLSearchParams(location.search).get('attempt'));

// issue #14: the fixed header's height, measured, places the paper and the
// camera preview below it however its messages wrap (window size, zoom).
function followHeaderHeight() {
  const bar = document.getElementById('exam-bar');
  const measure = () => document.body.style.setProperty('--bar-h', `${Math.ceil(bar.getBoundingClientRect().height)}px`);
  new ResizeObserver(measure).observe(bar);
  measure();
}
followHeaderHeight();


async function main() {
  try {
    await api('GET', '/api/auth/me');  // the CSRF token for the answer saves
  } catch (err) {
    if (err.status === 401) {
      location.href = `/static/login.html?next=${encodeURIComponent(location.pathname + location.search)}`;
      return;
    }
    throw err;
  }
  const page = new ExamPage(document.getElementById('exam'), attemptId);
  window.examPage = page;  // for the camera/hub modules and for debugging
  await page.load();
  document.dispatchEvent(new CustomEvent('exam-ready', { detail: page }));
}

main().catch((err) => {
  const box = document.getElementById('exam-error');
  box.textContent = err.message;
  box.hidden = false;
});
