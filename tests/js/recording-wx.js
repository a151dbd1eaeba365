// RecordingWx: the `wx` object the mini-program's pages call in the
// miniprogram-simulate tests — the only fake (rule 10). Every call is recorded
// ({ api, options }) in `calls`; a callback API (success/fail) is answered by
// the handler the test gave with `answer(api, fn)` (fn(options) → the success
// result; a throw → fail), or stays pending until the test calls
// `call.succeed(result)` / `call.fail(error)`. Storage is a Map, and every
// wx.connectSocket gives a RecordingSocketTask the test opens, feeds and closes.

class RecordingSocketTask {
  constructor(options) {
    this.url = options.url;
    this.sent = [];        // what the page sent: strings and ArrayBuffers
    this.closed = null;    // { code, reason } once the page closed it
    this.listeners = { open: [], message: [], close: [], error: [] };
  }

  onOpen(f) { this.listeners.open.push(f); }
  onMessage(f) { this.listeners.message.push(f); }
  onClose(f) { this.listeners.close.push(f); }
  onError(f) { this.listeners.error.push(f); }
  send({ data }) { this.sent.push(data); }
  close({ code, reason } = {}) { this.closed = { code, reason }; }

  // the test's side of the socket
  open() { this.listeners.open.forEach((f) => f({})); }
  receive(message) {
    const data = typeof message === 'string' ? message : JSON.stringify(message);
    this.listeners.message.forEach((f) => f({ data }));
  }
  drop(code = 1006, reason = '') { this.listeners.close.forEach((f) => f({ code, reason })); }
  messages() { return this.sent.filter((d) => typeof d === 'string').map((d) => JSON.parse(d)); }
  frames() { return this.sent.filter((d) => typeof d !== 'string'); }
}

class RecordingWx {
  constructor() {
    this.calls = [];
    this.handlers = {};
    this.storage = new Map();
    this.sockets = [];
    this.wx = this.build();
  }

  answer(api, fn) { this.handlers[api] = fn; return this; }
  called(api) { return this.calls.filter((c) => c.api === api); }
  last(api) { const all = this.called(api); return all[all.length - 1]; }

  record(api, options = {}) {
    const call = { api, options, settled: false };
    const settle = (key, value) => {
      if (call.settled) throw new Error(`${api} answered twice`);
      call.settled = true;
      call.result = value;
      if (options[key]) options[key](value);
      if (options.complete) options.complete(value);
    };
    call.succeed = (res = {}) => settle('success', Object.assign({ errMsg: `${api}:ok` }, res));
    call.fail = (err = {}) => settle('fail', Object.assign({ errMsg: `${api}:fail` }, err));
    this.calls.push(call);
    const handler = this.handlers[api];
    if (handler && (options.success || options.fail)) {
      setTimeout(() => {   // asynchronous, as in WeChat
        let res;
        try { res = handler(options); } catch (err) { call.fail({ errMsg: String(err.message || err) }); return; }
        Promise.resolve(res).then((value) => call.succeed(value), (err) => call.fail({ errMsg: String(err) }));
      }, 0);
    }
    return call;
  }

  build() {
    const rec = this;
    const special = {
      getStorageSync: (key) => { rec.record('getStorageSync', { key }); return rec.storage.has(key) ? rec.storage.get(key) : ''; },
      setStorageSync: (key, data) => { rec.record('setStorageSync', { key, data }); rec.storage.set(key, data); },
      removeStorageSync: (key) => { rec.record('removeStorageSync', { key }); rec.storage.delete(key); },
      connectSocket: (options) => {
        rec.record('connectSocket', options);
        const task = new RecordingSocketTask(options);
        rec.sockets.push(task);
        return task;
      },
      createCameraContext: () => {
        rec.record('createCameraContext');
        return { takePhoto: (options) => { rec.record('CameraContext.takePhoto', options); } };
      },
      getFileSystemManager: () => ({ readFile: (options) => { rec.record('FileSystemManager.readFile', options); } }),
    };
    // any other API: recorded, answered when it takes callbacks
    return new Proxy(special, {
      get: (target, api) => (typeof api !== 'string' || api in target ? target[api]
        : (options) => { rec.record(api, options); }),
    });
  }
}

module.exports = { RecordingWx, RecordingSocketTask };
