-- Data-subject requests (Art. 12-22 GDPR). A request outlives the person it concerns (an
-- erasure request must show it was done), so person_id has no foreign key. The requester's
-- address is kept only sealed under the installation key, and as a keyed hash for matching.

CREATE TABLE dsr_requests (
    id                    TEXT PRIMARY KEY,
    kind                  TEXT NOT NULL,
    status                TEXT NOT NULL,
    person_id             TEXT,
    requester             BLOB,
    requester_hash        BLOB,
    channel               TEXT NOT NULL,
    scope                 TEXT,
    received_at           BIGINT NOT NULL,
    due_at                BIGINT NOT NULL,
    extended_due_at       BIGINT,
    extension_reason      TEXT,
    extension_notified_at BIGINT,
    identity_requested_at BIGINT,
    identity_verified_at  BIGINT,
    closed_at             BIGINT,
    outcome_reason        TEXT,
    created_by            TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX dsr_requests_open ON dsr_requests(status, due_at);
CREATE INDEX dsr_requests_person ON dsr_requests(person_id, received_at);

-- Every step of a request, for its own history page (the audit trail has them too).
CREATE TABLE dsr_events (
    id          TEXT PRIMARY KEY,
    dsr_id      TEXT NOT NULL REFERENCES dsr_requests(id),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX dsr_events_dsr ON dsr_events(dsr_id, at);

-- Confirmation links of public requests: only a keyed hash of the token is stored.
CREATE TABLE dsr_tokens (
    token_hash BLOB PRIMARY KEY,
    dsr_id     TEXT NOT NULL REFERENCES dsr_requests(id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
