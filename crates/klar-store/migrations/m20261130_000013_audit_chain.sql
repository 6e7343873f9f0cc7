-- The audit trail becomes a hash chain: each entry carries the hash of its predecessor and its
-- own (SHA-256 over its fields and the predecessor's hash). Entries written before this
-- migration are chained when the store opens. Checkpoints sign the chain head with the
-- installation's Ed25519 key, so an exported range can be verified elsewhere.
ALTER TABLE audit_log ADD COLUMN prev_hash BLOB;
ALTER TABLE audit_log ADD COLUMN hash BLOB;

CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    head_hash  BLOB NOT NULL,
    signature  BLOB NOT NULL,
    public_key BLOB NOT NULL,
    signed_at  BIGINT NOT NULL
);
