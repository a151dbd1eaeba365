// zh-CN catalogue of the visible text. Pages look strings up by key.
export const zh = {
  'app.title': '安全生产管理人员考试系统',
  'login.title': '考生登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'pc.start': '开始模拟考试',
  'pc.status.connecting': '正在连接监考服务…',
  'pc.status.connected': '已连接监考服务',
  'pc.status.offline': '网络中断，正在重连…',
  'pc.camera.denied': '无法打开摄像头：请在浏览器地址栏允许本网站使用摄像头，并确认安全软件未阻止摄像头，然后刷新页面。',
  'pc.camera.live': '摄像头已开启',
  'phone.title': '手机监控端',
  'phone.connected': '手机端已连接',
};

export function t(key) { return zh[key] ?? key; }
