-- Purposes of processing (Art. 6 GDPR): the definition in force for each purpose, and every
-- version that was ever in force, so that "what did this purpose mean at time t?" has an
-- answer. Definitions are JSON of klar_domain::policy::Purpose; they hold no personal data.

CREATE TABLE purposes (
    key        TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    definition TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE purpose_versions (
    key        TEXT NOT NULL,
    version    BIGINT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    PRIMARY KEY (key, version)
);
