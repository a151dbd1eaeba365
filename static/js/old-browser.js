// Rule A6 for engines too old to run the pages' modules at all (IE11, the
// IE mode of 360 and QQ browsers, Chrome before 61): loaded with `nomodule`,
// so only such an engine runs it. Plain ES5 on purpose. Newer engines that are
// still too old (Chrome before 80) are told by browserProblem() in dom.js.
(function () {
  var ie = !!document.documentMode || /MSIE |Trident\//.test(navigator.userAgent);
  var text = ie
    ? '当前为兼容模式（IE内核），无法登录和考试。请使用最新版谷歌浏览器（Chrome），或将360浏览器切换到“极速模式”（地址栏右侧的闪电图标）。'
    : '当前浏览器版本过旧，无法登录和考试。请使用最新版谷歌浏览器（Chrome），或将360浏览器切换到“极速模式”。';
  function apply() {
    var body = document.body;
    for (var i = 0; i < body.children.length; i++) {
      if (body.children[i].tagName !== 'SCRIPT') body.children[i].style.display = 'none';
    }
    var box = document.createElement('div');
    box.className = 'browser-warning';
    box.setAttribute('data-testid', 'old-browser-warning');
    box.setAttribute('role', 'alert');
    box.appendChild(document.createTextNode(text));
    body.insertBefore(box, body.firstChild);
  }
  if (document.body) apply();
  else document.addEventListener('DOMContentLoaded', apply);
})();
