-- Double opt-in requests that were never confirmed lapse: the lapse job appends an `expire`
-- event to the consent ledger and marks the request here, once.

ALTER TABLE doi_requests ADD COLUMN lapsed_at BIGINT;
CREATE INDEX doi_requests_expires ON doi_requests(expires_at);
