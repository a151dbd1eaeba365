-- 0007 (issue #12, rule L1): two-way contact between invigilators and candidates.
-- Every message of an attempt, in both directions, numbered per attempt (idx,
-- gap-free: taken under the attempt's advisory lock), so a device's delivered
-- cursor says exactly what it has; bounded length; a candidate's message is
-- unique on its device's client id (a resend after a drop is stored once).
CREATE TABLE IF NOT EXISTS contact_messages (
    id          bigserial PRIMARY KEY,
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    idx         integer NOT NULL CHECK (idx >= 1),
    sender      text NOT NULL CHECK (sender IN ('candidate', 'invigilator')),
    kind        text NOT NULL CHECK (kind IN ('text', 'call', 'answered')),
    scope       text NOT NULL DEFAULT 'attempt' CHECK (scope IN ('attempt', 'room')),
    device      text CHECK (device IN ('pc', 'phone')),
    client_id   text CHECK (char_length(client_id) <= 40),
    user_id     bigint REFERENCES users(id),
    broadcast   text CHECK (char_length(broadcast) <= 40),
    body        text NOT NULL CHECK (char_length(body) <= 500),
    created_at  timestamptz NOT NULL,
    UNIQUE (attempt_id, idx),
    UNIQUE (attempt_id, device, client_id),
    CHECK ((sender = 'candidate') = (device IS NOT NULL AND user_id IS NULL)),
    CHECK (kind <> 'call' OR sender = 'candidate'),
    CHECK (kind <> 'answered' OR sender = 'invigilator')
);
CREATE INDEX IF NOT EXISTS contact_messages_sender_time ON contact_messages (user_id, created_at)
    WHERE user_id IS NOT NULL;

-- What each device of an attempt has acknowledged: the highest idx it holds
-- with nothing missing below. A reconnecting device gets everything after it.
CREATE TABLE IF NOT EXISTS contact_cursors (
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    device      text NOT NULL CHECK (device IN ('pc', 'phone')),
    delivered   integer NOT NULL DEFAULT 0 CHECK (delivered >= 0),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (attempt_id, device)
);

-- The invigilators' preset texts (at most 20, kept by administrators).
CREATE TABLE IF NOT EXISTS contact_presets (
    position    integer PRIMARY KEY CHECK (position BETWEEN 1 AND 20),
    body        text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 200),
    updated_by  bigint REFERENCES users(id),
    updated_at  timestamptz NOT NULL
);
-- The first presets; administrators edit them (PUT /api/admin/contact/presets).
INSERT INTO contact_presets (position, body, updated_at) VALUES
    (1, '请保持端正坐姿，面部完整出现在摄像头画面中。', now()),
    (2, '请将手机摆放在身体侧后方，使画面能拍到您本人、电脑屏幕和桌面。', now()),
    (3, '请勿离开考试页面，切屏将被记录为违规。', now()),
    (4, '已收到，请稍候，监考员正在处理。', now()),
    (5, '考试剩余时间不多，请抓紧时间作答并及时交卷。', now())
ON CONFLICT (position) DO NOTHING;
