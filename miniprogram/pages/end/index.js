// The end (rule D5): the phone's part is over.
Component({
  methods: {
    onLoad() { wx.setKeepScreenOn({ keepScreenOn: false }); },
    again() { wx.redirectTo({ url: '/pages/bind/index' }); },
  },
});
