"""The page a browser sees when a sign-in through the SSO is refused: plain
zh-CN HTML (the callback is a navigation, not an API call), the message and
the way back to the login page. Everything shown is escaped."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

from exam_api.errors import ApiError

_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>统一身份认证登录失败 - 安全生产管理人员考试系统</title>
<link rel="stylesheet" href="/static/css/base.css">
<link rel="stylesheet" href="/static/css/accounts.css">
</head>
<body>
<div class="auth-box" data-testid="sso-error-box">
  <h1>安全生产管理人员考试系统</h1>
  <h2>统一身份认证登录失败</h2>
  <p class="error" role="alert" data-testid="sso-error" data-code="{code}">{message}</p>
  <p class="links"><a href="/static/login.html" data-testid="sso-back">返回登录页</a></p>
</div>
</body>
</html>
"""


def refusal_page(error: ApiError) -> HTMLResponse:
    """The refusal as a page with the error's status; never cached."""
    body = _PAGE.format(code=html.escape(error.code), message=html.escape(error.message))
    return HTMLResponse(
        body,
        status_code=error.status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
