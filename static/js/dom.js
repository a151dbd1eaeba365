// Tiny DOM helpers. Text always goes in as text (textContent), never as markup,
// so names like "<b>x</b>" are shown exactly as typed.
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

export function $(selector, root = document) { return root.querySelector(selector); }

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
    return '当前为兼容模式（IE内核），无法进行考试。请使用谷歌浏览器（Chrome），或将360浏览器切换到“极速模式”。';
  }
  const chrome = /Chrome\/(\d+)/.exec(navigator.userAgent);
  if (chrome && Number(chrome[1]) < MIN_CHROME) {
    return `当前浏览器内核版本过旧（Chrome ${chrome[1]}），无法进行考试。请升级到最新版谷歌浏览器（Chrome），或将360浏览器切换到“极速模式”并升级到最新版。`;
  }
  if (typeof RTCPeerConnection === 'undefined' || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return '当前浏览器不支持摄像头视频监控（WebRTC），无法进行考试。请使用最新版谷歌浏览器（Chrome），或360浏览器的“极速模式”。';
  }
  return null;
}
