-- The audit trail: who did what to whose data, when, and what the policy gate decided.
-- Entries hold ids and codes only, never personal data, and outlive the person they name
-- (no foreign key: an erased person's trail stays as proof of the erasure).
-- `seq` orders the trail; it is assigned inside the writing transaction as MAX(seq) + 1,
-- so several processes on one database never collide.

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    person_id TEXT,
    object    TEXT,
    purpose   TEXT,
    channel   TEXT,
    rule      TEXT,
    outcome   TEXT
);
CREATE INDEX audit_log_person ON audit_log(person_id, seq);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_actor ON audit_log(actor, seq);
