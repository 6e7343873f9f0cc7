-- Key rotation (decision 0012): the generation of the key-encryption key that wraps each
-- person's data key. Keys wrapped before rotation existed are generation 1 (derived from the
-- master key). The index serves the rotation's batches and `klar keys status`.
ALTER TABLE person_keys ADD COLUMN kek_generation BIGINT NOT NULL DEFAULT 1;
CREATE INDEX person_keys_kek_generation ON person_keys(kek_generation);
