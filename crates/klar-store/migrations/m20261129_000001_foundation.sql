-- Klar foundation schema. Portable dialect (SQLite and PostgreSQL): TEXT, BIGINT, BLOB;
-- timestamps are BIGINT unix milliseconds (UTC); dates are TEXT 'YYYY-MM-DD'; booleans are
-- BIGINT 0/1. Personal data of persons exists here only as ciphertext (BLOB columns).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT,
    locale        TEXT,
    active        BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE sessions (
    id_hash     BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_norm   TEXT NOT NULL,
    street      TEXT,
    postal_code TEXT,
    city        TEXT,
    country     TEXT,
    website     TEXT,
    industry    TEXT,
    owner_id    TEXT REFERENCES users(id),
    custom      TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT
);
CREATE INDEX organizations_name ON organizations(name_norm);
CREATE INDEX organizations_owner ON organizations(owner_id, id);

-- The per-person data keys, wrapped by the key-encryption key. Deleting a row
-- crypto-shreds everything encrypted under that key.
CREATE TABLE person_keys (
    person_id   TEXT PRIMARY KEY,
    key_version BIGINT NOT NULL,
    wrapped_key BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE persons (
    id              TEXT PRIMARY KEY REFERENCES person_keys(person_id),
    kind            TEXT NOT NULL,
    organization_id TEXT REFERENCES organizations(id),
    owner_id        TEXT REFERENCES users(id),
    source          TEXT,
    -- Tag names as a JSON array, denormalised from person_tags for one-query reads.
    tags            TEXT NOT NULL DEFAULT '[]',
    personal        BLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT,
    updated_at      BIGINT NOT NULL,
    updated_by      TEXT
);
CREATE INDEX persons_org ON persons(organization_id, id);
CREATE INDEX persons_owner ON persons(owner_id, id);

-- Keyed blind indexes (HMAC) over normalised emails, E.164 phones and name prefixes.
CREATE TABLE person_lookup (
    kind      TEXT NOT NULL,
    hash      BLOB NOT NULL,
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    PRIMARY KEY (kind, hash, person_id)
);
CREATE INDEX person_lookup_person ON person_lookup(person_id);

CREATE TABLE tags (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    name_norm TEXT NOT NULL UNIQUE
);

CREATE TABLE person_tags (
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    tag_id    TEXT NOT NULL REFERENCES tags(id),
    PRIMARY KEY (person_id, tag_id)
);
CREATE INDEX person_tags_tag ON person_tags(tag_id, person_id);

CREATE TABLE pipelines (
    id         TEXT PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    is_default BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE pipeline_stages (
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    key         TEXT NOT NULL,
    name_de     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    position    BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, key)
);

CREATE TABLE deals (
    id                  TEXT PRIMARY KEY,
    title               TEXT NOT NULL,
    value_cents         BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    pipeline_id         TEXT NOT NULL REFERENCES pipelines(id),
    stage               TEXT NOT NULL,
    status              TEXT NOT NULL,
    person_id           TEXT REFERENCES persons(id) ON DELETE SET NULL,
    organization_id     TEXT REFERENCES organizations(id),
    owner_id            TEXT REFERENCES users(id),
    expected_close_date TEXT,
    lost_reason         TEXT,
    closed_at           BIGINT,
    custom              TEXT NOT NULL DEFAULT '{}',
    created_at          BIGINT NOT NULL,
    created_by          TEXT,
    updated_at          BIGINT NOT NULL,
    updated_by          TEXT,
    FOREIGN KEY (pipeline_id, stage) REFERENCES pipeline_stages(pipeline_id, key)
);
CREATE INDEX deals_stage ON deals(pipeline_id, stage, id);
CREATE INDEX deals_person ON deals(person_id, id);
CREATE INDEX deals_org ON deals(organization_id, id);
CREATE INDEX deals_owner ON deals(owner_id, id);

-- Activity text is encrypted under the key of the person it concerns (or the
-- installation data key when it concerns no person).
CREATE TABLE activities (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    person_id       TEXT REFERENCES persons(id) ON DELETE CASCADE,
    organization_id TEXT REFERENCES organizations(id),
    deal_id         TEXT REFERENCES deals(id) ON DELETE SET NULL,
    text            BLOB NOT NULL,
    purpose         TEXT,
    occurred_at     BIGINT NOT NULL,
    due_date        TEXT,
    done            BIGINT NOT NULL DEFAULT 0,
    owner_id        TEXT REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    created_by      TEXT,
    updated_at      BIGINT NOT NULL,
    updated_by      TEXT
);
CREATE INDEX activities_person ON activities(person_id, occurred_at);
CREATE INDEX activities_org ON activities(organization_id, occurred_at);
CREATE INDEX activities_deal ON activities(deal_id, occurred_at);
CREATE INDEX activities_open_tasks ON activities(kind, done, due_date);

CREATE TABLE custom_field_defs (
    record_type TEXT NOT NULL,
    key         TEXT NOT NULL,
    label       TEXT NOT NULL,
    field_type  TEXT NOT NULL,
    options     TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (record_type, key)
);

-- Idempotency-Key: remembers what a POST created, never the body (which may be personal).
CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       BIGINT NOT NULL,
    resource_id  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
