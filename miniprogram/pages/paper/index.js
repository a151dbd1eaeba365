// Paper choice (rule D4): the attempt's paper is the one the PC opened (the
// token names it); the candidate picks the entry it came from and confirms.
const link = require('../../lib/link.js');

const ENTRIES = [
  { key: 'home', label: '首页试卷', hint: '首页中的模拟考试和正式考试' },
  { key: 'class', label: '考试中心班级试卷', hint: '考试中心里本班级的试卷' },
  { key: 'photo', label: '拍照考试入口', hint: '只用手机拍照监控的考试' },
];

Component({
  data: { entries: ENTRIES, chosen: '', paper: '' },
  methods: {
    onLoad() {
      const saved = link.loadLink();
      if (!saved || !saved.info) { wx.redirectTo({ url: '/pages/bind/index' }); return; }
      if (wx.getStorageSync(`proctor.phone.${saved.info.attempt_id}:started`) === '1') {
        wx.redirectTo({ url: '/pages/camera/index' });   // a restart during the exam
        return;
      }
      this.setData({ paper: `${saved.info.paper.kind_label}：${saved.info.paper.title}`, chosen: 'home' });
    },
    choose(event) { this.setData({ chosen: event.currentTarget.dataset.key }); },
    confirm() { wx.redirectTo({ url: '/pages/camera/index' }); },
  },
});
