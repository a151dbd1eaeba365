-- 0004 (issue #15): the province's single sign-on (OpenID Connect).
-- A sign-in under way at the province's SSO: state, nonce and PKCE verifier
-- stay on the server; the browser carries only the state (and a cookie that
-- binds the flow to it). Short-lived and single use: taken by DELETE … RETURNING.
CREATE TABLE IF NOT EXISTS oidc_logins (
    state_hash     bytea PRIMARY KEY,
    browser_hash   bytea NOT NULL,
    nonce          text NOT NULL,
    code_verifier  text NOT NULL,
    next_path      text,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS oidc_logins_expires ON oidc_logins (expires_at);

-- Who a person is at an SSO (issuer + subject) and which account that is.
CREATE TABLE IF NOT EXISTS sso_links (
    issuer         text NOT NULL,
    subject        text NOT NULL,
    user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    linked_at      timestamptz NOT NULL,
    last_login_at  timestamptz NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX IF NOT EXISTS sso_links_user ON sso_links (user_id);

-- A browser session that began at the SSO: the ID token is the hint of the
-- provider's logout (end_session_endpoint); it ends with the session.
CREATE TABLE IF NOT EXISTS sso_sessions (
    token_hash  bytea PRIMARY KEY REFERENCES web_sessions(token_hash) ON DELETE CASCADE,
    issuer      text NOT NULL,
    id_token    text NOT NULL
);
-- One SSO account per account and issuer: two subjects never share a candidate.
CREATE UNIQUE INDEX IF NOT EXISTS sso_links_issuer_user ON sso_links (issuer, user_id);
