-- Legal holds (LAW.md B.5, table 5b): while one is in force, no automatic deletion touches
-- the person. Released holds stay as history with who released them and why.
CREATE TABLE legal_holds (
    id             TEXT PRIMARY KEY,
    person_id      TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    reason         TEXT NOT NULL,
    author         TEXT,
    since          BIGINT NOT NULL,
    released_at    BIGINT,
    released_by    TEXT,
    release_reason TEXT
);
CREATE INDEX legal_holds_person ON legal_holds(person_id, released_at);

-- Art. 14 GDPR: when a person whose data came from elsewhere (import, business card) was
-- informed. Persons without a row here are listed as due.
CREATE TABLE art14_notices (
    person_id   TEXT PRIMARY KEY REFERENCES persons(id) ON DELETE CASCADE,
    informed_at BIGINT NOT NULL,
    actor       TEXT
);
