-- Issue 7 items 4 and 5: sessions with a public id, a stage (password checked, second factor
-- pending), the last request (idle timeout) and where they came from (truncated address, user
-- agent); TOTP secrets (sealed under the installation key) with the last used time step;
-- one-time recovery codes (keyed hashes); login throttling per account and per source address
-- (keyed hashes, so neither emails nor addresses are stored). Sessions of the old shape are
-- dropped: everyone logs in once more after the upgrade.
DROP TABLE sessions;
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    id_hash      BLOB NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id),
    csrf_token   TEXT NOT NULL,
    stage        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    client_net   TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE user_totp (
    user_id      TEXT PRIMARY KEY REFERENCES users(id),
    secret       BLOB NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id),
    code_hash  BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE login_throttle (
    key_hash        BLOB PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT NOT NULL
);
