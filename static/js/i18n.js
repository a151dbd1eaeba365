// zh-CN catalogue of the visible text. Pages look strings up by key.
export const zh = {
  'app.title': '安全生产管理人员考试系统',
  'login.title': '用户登录',
  // one definition of the score on every page (issue #14): the 100-point scale of rule F2
  'score.scale': '百分制，60 分及格',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'outbox.admin_only': '只有管理员可以查看短信收件箱，请以管理员身份登录',
  'pc.start': '开始模拟考试',
  'pc.status.connecting': '正在连接监考服务…',
  'pc.status.connected': '已连接监考服务',
  'pc.status.offline': '网络中断，正在重连…',
  'pc.camera.denied': '无法打开摄像头：请在浏览器地址栏允许本网站使用摄像头，并确认安全软件未阻止摄像头，然后刷新页面。',
  'pc.camera.live': '摄像头已开启',
  'phone.title': '手机监控端',
  'phone.connected': '手机端已连接',
  // exam request and review (rules B1-B6)
  'request.status.none': '未提交考试信息',
  'request.status.pending': '审核中',
  'request.status.approved': '审核通过',
  'request.status.rejected': '审核不通过',
  'request.type.social': '社会化考生',
  'request.type.non_social': '非社会化考生',
  'request.gender.male': '男',
  'request.gender.female': '女',
  'request.doc.commitment_letter': '企业法人承诺书',
  'request.doc.study_proof': '学习证明材料',
  'request.company.note': '企业名称须与企业法人承诺书上的公司名称保持一致，审核员将核对。',
};

export function t(key) { return zh[key] ?? key; }
