// Deployment settings of the mini-program (docs/miniprogram.md).
//
// HUB_ORIGINS: the https origins whose QR codes this mini-program accepts —
// the server's PROCTOR_PUBLIC_URL. Each must also be a request legal domain
// (https://…) and a socket legal domain (wss://…, same host) in the
// mini-program's admin console (开发管理 → 开发设置 → 服务器域名); WeChat
// refuses any other host, and refuses ws:// and http:// outside the
// developer tools. An empty list accepts any https origin (development only).
module.exports = {
  HUB_ORIGINS: [],
};
