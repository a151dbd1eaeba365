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
  'request.doc.id_photo': '证件照',
  'request.company.note': '企业名称须与企业法人承诺书上的公司名称保持一致，审核员将核对。',
  // ---- the signed-in pages' header (every staff page)
  'admin.brand': '安全生产管理人员考试系统 · 管理端',
  'nav.request_review': '考试请求审核',
  'nav.result_review': '成绩审核',
  'nav.admin': '班级与试卷',
  'nav.results': '成绩统计',
  'nav.logout': '退出',
  // ---- results.html: the administrator's charts of a sitting or a class (issue #14)
  'results.page_title': '成绩统计 - 安全生产管理人员考试系统',
  'results.heading': '成绩统计：场次与班级',
  'results.intro': '统计已结束的正式考试（模拟考试和进行中的考试不计）。成绩为百分制，60 分及格。',
  'results.pick.sitting': '考试场次',
  'results.pick.class': '班级',
  'results.pick.none': '请选择',
  'results.title.sitting': '场次：{title}（{paper}，{klass}）',
  'results.title.class': '班级：{title}',
  'results.totals.attempts': '考试人次',
  'results.totals.attempts_value': '{n} 人次（{people} 名考生）',
  'results.totals.average': '平均分',
  'results.points': '{n} 分',
  'results.totals.pass': '及格率',
  'results.totals.pass_value': '{rate}（{n} / {scored} 人次达到 60 分）',
  'results.totals.outcomes': '审核结果',
  'results.totals.outcomes_value': '合格 {passed}，不合格 {failed}，待审核 {review}',
  'results.chart.scores': '成绩分布（人次）',
  'results.chart.pass': '及格率',
  'results.chart.violations': '违规（按类型，不含已撤销）',
  'results.chart.outages': '设备中断（次数）',
  'results.pass_caption': '及格线 {mark} 分：{n} / {scored} 人次达到',
  'results.no_violations': '没有违规记录',
  // charts.js: the text alternative of a chart (read by screen readers)
  'chart.bar': '{label}：{value}{unit}',
  'chart.join': '，',
  'chart.alt': '{title}：{text}',
  'chart.share': '{title}：{label}（{caption}）',
  // ---- login.html: sign-in (rule A1); shared: dom.js's browser check, smscode.js
  'login.alt0': '图形验证码，点击刷新',
  'login.title1': '看不清？点击刷新',
  'login.s1': '登录 - 安全生产管理人员考试系统',
  'login.login-roles': '考生、监考员、审核员和管理员都在此登录。',
  'login.s4': '或使用本系统账号登录',
  'login.login-steps': '登录分两步：填写用户名、密码和图形验证码后点击“下一步”，系统会向您注册时预留的手机发送6位短信验证码，输入短信验证码即可登录。',
  'login.login-submit': '下一步：获取短信验证码',
  'login.s5': '返回重新登录',
  'login.link-register': '没有账号？去注册',
  'login.link-forgot': '忘记密码',
  'login.s6': '建议使用谷歌浏览器（Chrome）；360浏览器请使用极速模式。',
  'login.s7': '短信收件箱（开发）',
  'login.s10': '验证码',
  'login.s11': '短信验证码',
  'login.s12': '请输入用户名和密码',
  'login.s13': '请输入图形验证码',
  'login.s14': '短信验证码已发送至您预留的手机 {phone_masked}，5分钟内有效。',
  'login.s15': '请输入6位短信验证码',
  'smscode.s1': '请输入正确的11位手机号码',
  'smscode.s2': '请先输入图形验证码',
  'smscode.s3': '验证码已发送至 {phone_masked}，5分钟内有效。',
  'smscode.s4': '{left}秒后重发',
  'smscode.s5': '重新获取',
  'dom.s1': '当前为兼容模式（IE内核），无法进行考试。请使用谷歌浏览器（Chrome），或将360浏览器切换到“极速模式”。',
  'dom.s2': '当前浏览器内核版本过旧（Chrome {v}），无法进行考试。请升级到最新版谷歌浏览器（Chrome），或将360浏览器切换到“极速模式”并升级到最新版。',
  'dom.s3': '当前浏览器不支持摄像头视频监控（WebRTC），无法进行考试。请使用最新版谷歌浏览器（Chrome），或360浏览器的“极速模式”。',
};

/**
 * The text of ``key``, its ``{name}`` places filled from ``params``.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params) {
  const text = zh[key] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all)) : text;
}

// The static text of a page: elements name their text's key in data-i18n
// (the content) or data-i18n-<attribute> (title, placeholder, aria-label,
// alt, value), so the HTML holds no Chinese and the wording is reviewed here.
const I18N_ATTRS = ['title', 'placeholder', 'aria-label', 'alt', 'value'];

/** Fill the keyed text of ``root`` (the whole page by default). */
export function applyI18n(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.getAttribute('data-i18n'));
  for (const attr of I18N_ATTRS) {
    for (const node of root.querySelectorAll(`[data-i18n-${attr}]`)) node.setAttribute(attr, t(node.getAttribute(`data-i18n-${attr}`)));
  }
}
