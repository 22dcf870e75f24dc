-- Schema version 6: progressive assignments (Store.CreateRollout). doc is
-- the controller's JSON document; active is kept beside it so replicas find
-- the rollouts still moving without reading every document.
CREATE TABLE rollouts (
    id         text COLLATE "C" PRIMARY KEY,
    active     boolean NOT NULL,
    doc        jsonb   NOT NULL,
    -- Compare-and-swap version: UpdateRollout stores version + 1.
    version    bigint  NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX rollouts_active ON rollouts (created_at DESC, id DESC) WHERE active;
