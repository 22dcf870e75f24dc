-- Schema version 8: each distinct assignment text once. A fleet's
-- renderings of one pipeline are the same ~10 KiB text but for each agent's
-- instance UID; the text is stored with the UID replaced by a placeholder
-- (store.TemplateText; templated says so), keyed by the hex SHA-256 of what
-- is stored, with the number of assignments referencing it. Writers keep
-- refs exact in the transaction that changes the references, locking the
-- text rows in hash order; a text goes with its last reference.
CREATE TABLE config_texts (
    hash text COLLATE "C" PRIMARY KEY,
    text text   NOT NULL,
    refs bigint NOT NULL CHECK (refs >= 0)
);

-- The placeholder is store.TextPlaceholder: \x01 phoenix:instance_uid \x02.
-- A text is templated when it holds the UID and not the placeholder, as
-- TemplateText decides; replace() is, like strings.ReplaceAll, a left to
-- right replacement of non-overlapping occurrences.
ALTER TABLE assignments
    ADD COLUMN templated boolean NOT NULL DEFAULT false,
    ADD COLUMN text_hash text COLLATE "C";
UPDATE assignments SET templated = true
    WHERE strpos(config, instance_uid) > 0
      AND strpos(config, chr(1) || 'phoenix:instance_uid' || chr(2)) = 0;
UPDATE assignments SET config = replace(config, instance_uid, chr(1) || 'phoenix:instance_uid' || chr(2))
    WHERE templated;
UPDATE assignments SET text_hash = encode(sha256(convert_to(config, 'UTF8')), 'hex');
INSERT INTO config_texts (hash, text, refs)
    SELECT text_hash, (array_agg(config))[1], count(*) FROM assignments GROUP BY text_hash;

ALTER TABLE assignments
    DROP COLUMN config,
    ALTER COLUMN text_hash SET NOT NULL,
    ADD CONSTRAINT assignments_text_hash_fkey FOREIGN KEY (text_hash) REFERENCES config_texts (hash);
-- The foreign key's check when a text is deleted.
CREATE INDEX assignments_text_hash_idx ON assignments (text_hash);
