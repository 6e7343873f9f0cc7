-- Email campaigns, their durable outbox, the tokens in their mails, and consented tracking.

CREATE TABLE campaigns (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    channel          TEXT NOT NULL,
    locale           TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    -- The segment as JSON (tags, organization, deal stage, owner, custom field values).
    segment          TEXT NOT NULL,
    goods_class      TEXT,
    -- draft, sending, sent
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    created_by       TEXT,
    updated_at       BIGINT NOT NULL,
    send_started_at  BIGINT,
    send_finished_at BIGINT
);
CREATE INDEX campaigns_created ON campaigns(created_at, id);

-- One row per (campaign, person): the pair is sent at most once. Ids and codes only.
CREATE TABLE campaign_outbox (
    campaign_id     TEXT NOT NULL REFERENCES campaigns(id),
    person_id       TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    -- queued, sending, sent, refused, failed, interrupted
    status          TEXT NOT NULL,
    reason_code     TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_at      BIGINT,
    done_at         BIGINT,
    -- 1 when the mail carried tracking (the person's email_tracking consent was confirmed).
    tracked         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, person_id)
);
CREATE INDEX campaign_outbox_due ON campaign_outbox(status, next_attempt_at);
CREATE INDEX campaign_outbox_person ON campaign_outbox(person_id);

-- Tokens in mails: one-click unsubscribe, the preference page, consented tracking.
-- Stored as keyed hashes; the token itself is only in the mail.
CREATE TABLE mail_tokens (
    token_hash  BLOB PRIMARY KEY,
    kind        TEXT NOT NULL,
    person_id   TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    campaign_id TEXT,
    purpose     TEXT,
    channel     TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    used_at     BIGINT
);
CREATE INDEX mail_tokens_person ON mail_tokens(person_id);
CREATE INDEX mail_tokens_campaign ON mail_tokens(campaign_id, kind);

-- Opens and clicks, recorded only from mails sent with the person's tracking consent.
CREATE TABLE campaign_events (
    id          TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    person_id   TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    link        BIGINT,
    at          BIGINT NOT NULL
);
CREATE INDEX campaign_events_campaign ON campaign_events(campaign_id, kind);
CREATE INDEX campaign_events_person ON campaign_events(person_id);

-- "Which of these persons have an email address?" (campaign audiences) read from the index
-- alone; it also serves every lookup by person that the old index served.
CREATE INDEX person_lookup_person_kind ON person_lookup(person_id, kind);
DROP INDEX person_lookup_person;
