-- The consent ledger: append-only events per person, purpose and channel. The current
-- state is derived from the events (klar_domain::policy::consent_state), so "was this
-- allowed at time t?" has an answer. Evidence is sealed under the person's data key.

CREATE TABLE consent_events (
    id              TEXT PRIMARY KEY,
    person_id       TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL,
    purpose_version BIGINT NOT NULL,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    source          TEXT NOT NULL,
    wording_version TEXT NOT NULL,
    evidence        BLOB,
    actor           TEXT,
    at              BIGINT NOT NULL
);
CREATE INDEX consent_events_person ON consent_events(person_id, at);
