// Binding (rule D3): the PC's QR code, scanned in the mini-program
// (wx.scanCode) or opening it (the `q` option of an ordinary QR code), gives
// the phone token; the first time on this phone the candidate confirms whose
// exam it is, then reads the notice.
const link = require('../../lib/link.js');

const TEXT = {
  notOurs: '这不是考试系统的二维码，请扫描电脑端考试页面上的二维码。',
  expired: '二维码已失效，请在电脑端考试页面重新扫描二维码。',
  ended: '本场考试已结束。',
  network: '网络连接失败，请检查手机网络后重试。',
};

Component({
  data: { step: 'scan', candidate: '', paper: '', error: '' },
  methods: {
    onLoad(options) {
      const opened = options && options.q ? link.parseLink(decodeURIComponent(options.q)) : null;
      if (options && options.q && !opened) { this.setData({ error: TEXT.notOurs }); return; }
      const saved = opened || link.loadLink();   // a restart during the exam carries on
      if (saved) this.open({ origin: saved.origin, token: saved.token });
    },

    scan() {
      this.setData({ error: '' });
      wx.scanCode({
        onlyFromCamera: true,
        scanType: ['qrCode'],
        success: (res) => {
          const found = link.parseLink(res.result);
          if (!found) { this.setData({ error: TEXT.notOurs }); return; }
          this.open(found);
        },
        fail: () => {},   // the candidate closed the scanner
      });
    },

    async open(found) {
      this.setData({ step: 'loading', error: '' });
      let info;
      try {
        info = await link.api(found, 'GET', '/api/phone/info');
      } catch (err) {
        link.clearLink();
        this.setData({ step: 'scan', error: err.status === 0 ? TEXT.network : (err.status === 401 ? TEXT.expired : err.message) });
        return;
      }
      if (info.status !== 'in_progress') {
        link.clearLink();
        this.setData({ step: 'scan', error: TEXT.ended });
        return;
      }
      this.found = { origin: found.origin, token: found.token, info };
      link.saveLink(this.found);
      if (link.bound(info)) { this.next(); return; }
      this.setData({ step: 'bind', candidate: info.candidate, paper: `${info.paper.kind_label}：${info.paper.title}` });
    },

    confirmBind() {
      link.bind(this.found.info);
      this.setData({ step: 'notice' });
    },

    confirmNotice() { this.next(); },

    next() { wx.redirectTo({ url: '/pages/paper/index' }); },
  },
});
