-- The erasure journal (Art. 17): one id-only tombstone per erased person, never any of her
-- data. It answers "was this id erased?" (a second erasure is told so, 410), and it is the
-- list replayed after restoring a backup that still holds her (crypto-shredded) rows.
-- No foreign key: the person it names is gone.

CREATE TABLE erasures (
    person_id TEXT PRIMARY KEY,
    erased_at BIGINT NOT NULL,
    actor     TEXT
);
CREATE INDEX erasures_at ON erasures(erased_at);
