-- Schema version 3: each agent's own credential (store.AgentCredential).
-- Only SHA-256 digests of tokens are stored.
CREATE TABLE agent_credentials (
    instance_uid         text COLLATE "C" PRIMARY KEY,
    token_sha256         text NOT NULL UNIQUE,
    previous_sha256      text UNIQUE,
    previous_valid_until timestamptz,
    enrolled_by          text NOT NULL,
    enrolled_at          timestamptz NOT NULL,
    rotated_at           timestamptz
);
