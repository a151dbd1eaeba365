// The WeChat adapter of the client core (lib/hub-core.js, the copy of
// static/js/hub-core.js): socket, storage, timers and camera over the wx APIs.
const { MAX_PHOTO_BYTES } = require('./hub-core.js');

const PHOTO_TARGET_BYTES = 600 * 1024;   // well under the hub's cap (2 MiB)
const PHOTO_MAX_SIDE = 960;

// wx.connectSocket → the core's socket ({ send, close } and three callbacks).
const socket = {
  open(url, { onOpen, onMessage, onClose }) {
    let closed = false;
    const done = (code, reason) => {
      if (closed) return;
      closed = true;
      onClose(code, reason);
    };
    const task = wx.connectSocket({ url, tcpNoDelay: true, fail: () => done(1006, 'connect failed') });
    task.onOpen(() => onOpen());
    task.onMessage((res) => onMessage(res.data));
    task.onClose((res) => done(res.code, res.reason || ''));
    task.onError(() => { task.close({ code: 1000 }); done(1006, 'socket error'); });
    return {
      ws: task,
      send: (data) => task.send({ data }),
      close: (code, reason) => task.close({ code, reason }),
    };
  },
};

// wx storage → the core's storage (strings, synchronous).
const storage = {
  load: (key) => wx.getStorageSync(key) || null,
  save: (key, value) => wx.setStorageSync(key, value),
  remove: (key) => wx.removeStorageSync(key),
};

function call(api, options) {
  return new Promise((resolve, reject) => api(Object.assign({}, options, { success: resolve, fail: reject })));
}

// CameraContext.takePhoto, then wx.compressImage until the JPEG is under the
// target size, read as an ArrayBuffer (rules D4, E2).
function camera(page) {
  return {
    ready: () => page.cameraReady(),
    async takePhoto() {
      const shot = await call((o) => page.cameraContext().takePhoto(o), { quality: 'normal' });
      let path = shot.tempImagePath;
      let data = null;
      for (const quality of [80, 60, 40, 20]) {
        const compressed = await call(wx.compressImage, { src: path, quality, compressedWidth: PHOTO_MAX_SIDE });
        const read = await call((o) => wx.getFileSystemManager().readFile(o), { filePath: compressed.tempFilePath });
        data = read.data;
        if (data.byteLength <= PHOTO_TARGET_BYTES) break;
      }
      return data && data.byteLength <= MAX_PHOTO_BYTES ? data : null;
    },
  };
}

module.exports = { socket, storage, camera, call };
