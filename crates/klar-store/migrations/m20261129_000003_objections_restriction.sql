-- Objections (Art. 21), restriction of processing (Art. 18) and the suppression list.
-- The suppression list holds only keyed hashes of addresses (the blind-index HMAC) and
-- deliberately outlives the person: whoever objected to direct marketing stays unreachable
-- at that address even after erasure and re-entry.

CREATE TABLE objections (
    id        TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    scope     TEXT NOT NULL,
    source    TEXT NOT NULL,
    actor     TEXT,
    at        BIGINT NOT NULL
);
CREATE INDEX objections_person ON objections(person_id, at);

CREATE TABLE restrictions (
    person_id TEXT PRIMARY KEY REFERENCES persons(id) ON DELETE CASCADE,
    reason    TEXT NOT NULL,
    since     BIGINT NOT NULL,
    actor     TEXT
);

CREATE TABLE suppressions (
    kind       TEXT NOT NULL,
    hash       BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, hash)
);
