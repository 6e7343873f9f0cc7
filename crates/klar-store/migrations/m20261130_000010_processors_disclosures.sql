-- The register of processors and recipients (LAW.md B.6, B.10) and the disclosure log
-- (Art. 19, table 4f). Neither holds personal data: the register describes companies, the
-- log holds ids and codes only. The log has no foreign key to persons: it must outlive an
-- erased person, because Art. 19 asks to notify the recipients after an erasure.

CREATE TABLE processors (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    role               TEXT NOT NULL,
    -- YYYY-MM-DD; NULL when no contract (Art. 28) or arrangement (Art. 26) is on file.
    contract_signed_at TEXT,
    -- JSON arrays of keys.
    purposes           TEXT NOT NULL,
    data_categories    TEXT NOT NULL,
    -- ISO 3166-1 alpha-2.
    country            TEXT NOT NULL,
    transfer_mechanism TEXT NOT NULL,
    services           TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    created_by         TEXT
);

CREATE TABLE disclosures (
    id              TEXT PRIMARY KEY,
    processor_id    TEXT NOT NULL REFERENCES processors(id),
    person_id       TEXT NOT NULL,
    -- JSON array of data category keys.
    data_categories TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    legal_basis     TEXT NOT NULL,
    disclosed_at    BIGINT NOT NULL,
    actor           TEXT
);
CREATE INDEX disclosures_person ON disclosures(person_id, disclosed_at);
