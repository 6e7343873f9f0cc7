-- Double opt-in requests: one per email grant. Only a keyed hash of the token is stored;
-- a token confirms once, and only before it expires.

CREATE TABLE doi_requests (
    token_hash      BLOB PRIMARY KEY,
    person_id       TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL,
    channel         TEXT NOT NULL,
    wording_version TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX doi_requests_person ON doi_requests(person_id);
