-- Break-glass access (issue 7 item 3, decision 0016): an administrator asks to read one
-- person for a limited time with a reason; a privacy officer approves or refuses. The
-- reason is free text that may name her, so it is sealed under the installation key, and
-- her grants go with her erasure (the audit trail keeps their ids). Whether a grant is in
-- force is computed from `expires_at` and the clock; no job ends it.

CREATE TABLE access_grants (
    id           TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    reason       BLOB NOT NULL,
    minutes      BIGINT NOT NULL,
    requested_at BIGINT NOT NULL,
    -- requested, approved or refused
    status       TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   BIGINT,
    -- decided_at + minutes, for approved grants
    expires_at   BIGINT
);
CREATE INDEX access_grants_requester ON access_grants(requested_by, person_id);
CREATE INDEX access_grants_person ON access_grants(person_id);
