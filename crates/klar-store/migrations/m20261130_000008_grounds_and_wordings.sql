-- The facts a legal basis rests on besides consent (LAW.md B.1, B.2), and the consent
-- wordings. Free texts that may describe a person are sealed under her key.

-- Legitimate-interest assessments (table 1c): one per purpose at a time; who, when, text.
CREATE TABLE interest_assessments (
    id           TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    text         TEXT NOT NULL,
    author       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    withdrawn_at BIGINT
);
CREATE INDEX interest_assessments_purpose ON interest_assessments(purpose, created_at);

-- Presumed consent of a business to sales calls (table 2f): a concrete reason, its author.
CREATE TABLE presumed_consents (
    id          TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    reason      BLOB NOT NULL,
    author      TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX presumed_consents_person ON presumed_consents(person_id, recorded_at);

-- §7(3) UWG existing-customer facts (table 2b): the sale, the address captured with it
-- (a keyed hash), the goods class sold, and the opt-out notice given at collection.
CREATE TABLE existing_customer_facts (
    person_id      TEXT PRIMARY KEY REFERENCES persons(id) ON DELETE CASCADE,
    deal_id        TEXT NOT NULL,
    address_hash   BLOB NOT NULL,
    goods_class    TEXT NOT NULL,
    notice_wording TEXT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    actor          TEXT
);

-- "Keine Werbung": the person recognisably does not want advertising by post (§7(1) UWG).
CREATE TABLE advertising_markers (
    person_id   TEXT PRIMARY KEY REFERENCES persons(id) ON DELETE CASCADE,
    recorded_at BIGINT NOT NULL,
    actor       TEXT
);

-- The exact texts people were shown when they consented, stored once per version with
-- their SHA-256; a version never changes once stored.
CREATE TABLE consent_wordings (
    version    TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    locale     TEXT NOT NULL,
    text       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT
);
CREATE INDEX consent_wordings_purpose ON consent_wordings(purpose, created_at);
