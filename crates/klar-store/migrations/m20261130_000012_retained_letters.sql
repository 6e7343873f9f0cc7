-- Art. 17(3)(b): when a person is erased, the business letters of a concluded deal that
-- commercial law makes the company keep (§257 HGB, §147 AO: 6 years from the end of the
-- calendar year) stay, re-sealed under the installation key, without her id, restricted
-- (hidden from every view) until `retained_until`; the retention run deletes them then.
ALTER TABLE activities ADD COLUMN retained_until BIGINT;
ALTER TABLE activities ADD COLUMN retention_class TEXT;
CREATE INDEX activities_retained ON activities(retained_until);
