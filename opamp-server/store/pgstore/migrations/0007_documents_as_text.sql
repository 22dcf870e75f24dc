-- Schema version 7: experiments' spec and state and rollouts' doc are kept
-- as the canonical text the store was given (store.CanonicalJSON), so a read
-- returns them as they are. As jsonb, every read printed them in jsonb's own
-- key order and spacing and the store re-encoded multi-MiB documents. Nothing
-- queries into them. The rows converted here carry jsonb's text: the Go step
-- of this migration (canonicalizeDocuments) rewrites them canonical.
ALTER TABLE experiments
    ALTER COLUMN spec  TYPE text USING spec::text,
    ALTER COLUMN state TYPE text USING state::text;
ALTER TABLE rollouts
    ALTER COLUMN doc TYPE text USING doc::text;
