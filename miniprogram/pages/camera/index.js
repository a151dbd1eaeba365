// The exam's second camera (rules D4–D6, E2, H1, H2, N1). The protocol and
// the phone's rules are the shared client core (lib/hub-core.js, the copy of
// static/js/hub-core.js); this page is its WeChat shell: the <camera>
// component (rear by default, a flip to the front), photos with
// CameraContext.takePhoto compressed by wx.compressImage, wx.connectSocket,
// the screen kept on, asleep on onHide and a photo on every onShow after it,
// a one-tap rejoin, and the end after the PC (confirmed when earlier, D5).
const { PhoneSession } = require('../../lib/hub-core.js');
const wechat = require('../../lib/wechat.js');
const link = require('../../lib/link.js');

const TEXT = {
  camera: { off: '摄像头未开启', preview: '摄像头已开启（尚未开始）', live: '监控中', asleep: '已暂停（离开了本页面）', lost: '摄像头已断开' },
  hub: { connecting: '正在连接监考服务…', connected: '已连接监考服务', offline: '网络中断，正在重连…', ended: '' },
  cameraFailed: '无法打开手机摄像头：请允许小程序使用摄像头后点击“重新连接摄像头”。',
  expired: '二维码已失效，请在电脑端考试页面重新扫描二维码。',
  confirm: '电脑端考试尚未结束，提前结束手机监控将被记录，提前结束可能影响审核结果。确定结束吗？',
};

Component({
  data: {
    paper: '', position: 'back', cameraOn: true, cameraOk: false, cameraState: 'off', cameraText: TEXT.camera.off,
    started: false, pcEnded: false, showRejoin: false, hub: 'connecting', hubText: TEXT.hub.connecting,
    pcText: '', endNote: '', error: '', photos: 0,
  },
  methods: {
    onLoad() {
      const saved = link.loadLink();
      if (!saved || !saved.info) { wx.redirectTo({ url: '/pages/bind/index' }); return; }
      this.link = saved;
      this.cameraOk = false;
      this.setData({ paper: `${saved.info.paper.kind_label}：${saved.info.paper.title}` });
      this.session = new PhoneSession({
        url: link.wsUrl(saved),
        socket: wechat.socket,
        storage: wechat.storage,
        key: `proctor.phone.${saved.info.attempt_id}`,
        camera: wechat.camera(this),
        renewToken: () => this.renewToken(),
        handlers: {
          onChange: (view) => this.render(view),
          onConfirm: (message) => this.confirmEnd(message),
          onWarning: (text) => this.setData({ error: `监考员提醒：${text}` }),
          onExpired: () => this.setData({ error: TEXT.expired }),
        },
      });
      wx.setKeepScreenOn({ keepScreenOn: true });   // the seed: the screen stays on during the exam
      this.session.run();   // rule D6: either device may come first
    },

    onShow() {
      if (!this.session) return;
      wx.setKeepScreenOn({ keepScreenOn: true });
      this.session.shown();   // after an onHide: page_return, a photo (rule D4)
    },

    onHide() {
      if (this.session) this.session.hidden();   // rule H2: asleep, not a violation
    },

    onUnload() {
      if (this.session && !this.session.finished) this.session.stop();
    },

    // ----- the camera (rule D4) -----------------------------------------------------

    cameraContext() {
      if (!this.context) this.context = wx.createCameraContext();
      return this.context;
    },

    cameraReady() { return this.cameraOk; },

    onCameraReady() {
      this.cameraOk = true;
      this.setData({ cameraOk: true, showRejoin: false, error: '' });
      this.session.cameraReady();
    },

    onCameraError() {
      this.cameraOk = false;
      this.setData({ cameraOk: false, showRejoin: true, error: TEXT.cameraFailed });
      this.session.cameraLost();
    },

    onCameraStop() { this.onCameraError(); },   // the system took the camera (a call, another app)

    flip() {
      this.setData({ position: this.data.position === 'back' ? 'front' : 'back' });
    },

    start() {
      if (this.session.start()) wx.setKeepScreenOn({ keepScreenOn: true });
    },

    // One tap (rule H2): ask for the camera again, remount it, then the core rejoins.
    rejoin() {
      if (this.cameraOk) { this.session.rejoin(); return; }
      wx.authorize({
        scope: 'scope.camera',
        success: () => this.remount(),
        fail: () => wx.openSetting({ success: () => this.remount() }),
      });
    },

    remount() {
      this.setData({ cameraOn: false });
      this.setData({ cameraOn: true });
      this.rejoinOnReady = true;
    },

    // ----- the hub --------------------------------------------------------------------

    renewToken() {
      return link.api(this.link, 'POST', '/api/phone/token').then((fresh) => {
        this.link = Object.assign({}, this.link, { token: fresh.token });
        link.saveLink(this.link);
        return fresh;
      });
    },

    render(view) {
      if (view.finished) { this.done(); return; }
      if (this.rejoinOnReady && this.cameraOk) { this.rejoinOnReady = false; this.session.rejoin(); return; }
      const state = !this.cameraOk ? (view.started ? 'lost' : 'off')
        : !view.started ? 'preview' : view.visible ? 'live' : 'asleep';
      const pc = view.pc;
      const pcText = !pc ? '' : pc.status === 'ended' ? '电脑端考试已结束'
        : pc.connected ? `电脑端考试中（已切屏 ${pc.violations} 次，共 ${pc.max} 次）` : '电脑端未连接';
      this.setData({
        started: view.started,
        pcEnded: view.pcEnded,
        cameraState: state,
        cameraText: TEXT.camera[state],
        hub: view.hub,
        hubText: TEXT.hub[view.hub] || '',
        photos: view.photos,
        pcText,
        endNote: view.pcEnded ? `电脑端考试已结束：${this.session.endMessage || ''}请点击“结束考试”完成手机监控。` : '',
      });
    },

    // ----- the end (rule D5) ---------------------------------------------------------

    askEnd() {
      if (this.session.requestEnd() === 'confirm') this.confirmEnd();
    },

    confirmEnd(message) {
      wx.showModal({
        title: '提前结束？',
        content: message || TEXT.confirm,
        confirmText: '确定结束',
        cancelText: '继续监控',
        success: (res) => { if (res.confirm) this.session.end(true); },
      });
    },

    done() {
      if (this.finished) return;
      this.finished = true;
      link.clearLink();
      wx.setKeepScreenOn({ keepScreenOn: false });
      wx.redirectTo({ url: '/pages/end/index' });
    },
  },
});
