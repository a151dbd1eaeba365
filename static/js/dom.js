// Tiny DOM helpers. Text always goes in as text (textContent), never as markup,
// so names like "<b>x</b>" are shown exactly as typed.
import { t } from './i18n.js';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'testid') node.dataset.testid = value;
    else if (key === 'class') node.className = value;
    // CSSOM, not a style attribute: the CSP forbids inline style attributes
    else if (key === 'style') node.style.cssText = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Lookups by selector or test id: the element's kind is the page's to know
// (an input, a link, a form…), so the type checker takes it as given.
/** @returns {any} */
export function $(selector, root = document) { return root.querySelector(selector); }

/** @returns {any} */
export function byTestId(id, root = document) { return root.querySelector(`[data-testid="${id}"]`); }

export function show(node, visible = true) { node.hidden = !visible; }

export function setError(node, message) {
  node.textContent = message || '';
  node.hidden = !message;
}

// Browser check (rule A6): WebRTC and getUserMedia are needed for the exam; IE mode has neither.
// Engines that cannot run modules at all get old-browser.js (nomodule) instead.
export const MIN_CHROME = 80;  // the oldest Chromium core the exam page is tested against
export function browserProblem() {
  if (document.documentMode) {
    return t('dom.s1');
  }
  const chrome = /Chrome\/(\d+)/.exec(navigator.userAgent);
  if (chrome && Number(chrome[1]) < MIN_CHROME) {
    return t('dom.s2', { v: chrome[1] });
  }
  if (typeof RTCPeerConnection === 'undefined' || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return t('dom.s3');
  }
  return null;
}
