// The hub's websocket client for the web pages (protocol v1, docs/protocol.md):
// the protocol itself is the platform-free core in hub-core.js (hello, numbered
// messages acknowledged by the hub, resume after a drop, heartbeats every
// 5 s); this file is its browser adapter — WebSocket, sessionStorage, timers.
// Usable by the PC page and the phone page alike.
import { HubConnection } from './hub-core.js';

// The socket adapter of the core over the browser's WebSocket.
export const browserSocket = {
  open(url, { onOpen, onMessage, onClose }) {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => onOpen());
    ws.addEventListener('message', (event) => onMessage(event.data));
    ws.addEventListener('close', (event) => onClose(event.code, event.reason));
    return { ws, send: (data) => ws.send(data), close: (code, reason) => ws.close(code, reason) };
  },
};

// The storage adapter over sessionStorage (the outbox survives a reload of the tab).
export const sessionStore = {
  load: (key) => sessionStorage.getItem(key),
  save: (key, value) => sessionStorage.setItem(key, value),
  remove: (key) => sessionStorage.removeItem(key),
};

export class HubSocket extends HubConnection {
  // url: ws_pc_url / ws_phone_url from POST /api/attempts.
  // handlers: { onMessage(msg), onStatus('connecting'|'connected'|'offline'|'ended', code), onAck(seq) }
  constructor(url, handlers = {}) {
    super({ url, socket: browserSocket, storage: sessionStore, handlers });
  }
}

// Rules E3/H3 on the PC: report leaving the page (blur, visibilitychange,
// pagehide — the hub counts one switch once) and clicks outside the paper.
export function watchFocus(hub, paper) {
  window.addEventListener('blur', () => hub.send('focus', { state: 'lost', cause: 'blur' }));
  window.addEventListener('focus', () => hub.send('focus', { state: 'back' }));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') hub.send('focus', { state: 'lost', cause: 'visibility' });
    else hub.send('focus', { state: 'back' });
  });
  window.addEventListener('pagehide', () => hub.send('focus', { state: 'lost', cause: 'pagehide' }));
  if (paper) {
    document.addEventListener('mousedown', (event) => {
      if (!paper.contains(event.target)) hub.send('click_outside');
    });
  }
}
