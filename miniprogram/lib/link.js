// The binding (rule D3): what the PC's QR code holds — the phone page's
// address with the phone token, https://<PROCTOR_PUBLIC_URL>/static/phone.html?token=v1.… —
// read from wx.scanCode's result or from the `q` option a mini-program gets
// when WeChat opens it for an ordinary QR code (扫普通链接二维码打开小程序).
// A `scene` (mini-program code) is not used: it holds 32 characters and a
// phone token is longer.
const config = require('../config.js');

const LINK_KEY = 'proctor.phone.link';
const BINDING_KEY = 'proctor.phone.binding';

function parseQuery(query) {
  const out = {};
  for (const part of String(query || '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    out[key] = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
  }
  return out;
}

// { origin, token } from the QR code's text, or null when it is not ours.
function parseLink(text) {
  const found = /^(https?:\/\/[^/?#]+)(\/[^?#]*)?\?([^#]*)/.exec(String(text || '').trim());
  if (!found) return null;
  const origin = found[1].toLowerCase();
  const token = parseQuery(found[3]).token;
  if (!token || !/^v1\.\d+\.phone\.\d+\.[0-9a-f]+$/.test(token)) return null;
  const allowed = config.HUB_ORIGINS;
  if (allowed.length ? !allowed.includes(origin) : !origin.startsWith('https://') && !/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin)) return null;
  return { origin, token };
}

function wsUrl(link) {
  return `${link.origin.replace(/^http/, 'ws')}/ws/phone?token=${encodeURIComponent(link.token)}`;
}

function saveLink(link) { wx.setStorageSync(LINK_KEY, JSON.stringify(link)); }

function loadLink() {
  try { return JSON.parse(wx.getStorageSync(LINK_KEY) || 'null'); } catch (err) { return null; }
}

function clearLink() { wx.removeStorageSync(LINK_KEY); }

function bound(info) { return wx.getStorageSync(BINDING_KEY) === info.binding_key; }

function bind(info) { wx.setStorageSync(BINDING_KEY, info.binding_key); }

// One call of the hub's HTTP API with the phone token (docs/api.md).
function api(link, method, path) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: link.origin + path,
      method,
      header: { Authorization: `Bearer ${link.token}` },
      success: (res) => {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(res.data);
        else reject(Object.assign(new Error((res.data && res.data.message) || `HTTP ${res.statusCode}`), { status: res.statusCode }));
      },
      fail: (err) => reject(Object.assign(new Error(err.errMsg || 'network'), { status: 0 })),
    });
  });
}

module.exports = { parseLink, parseQuery, wsUrl, saveLink, loadLink, clearLink, bound, bind, api };
