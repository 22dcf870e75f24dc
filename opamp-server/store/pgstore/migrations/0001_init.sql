-- Phoenix control-plane store, schema version 1.
-- Keys use the "C" collation: byte order, the order the embedded store and
-- Go's string comparison use, whatever the database's locale.

CREATE TABLE agents (
    instance_uid          text COLLATE "C" PRIMARY KEY,
    description           jsonb   NOT NULL,
    labels                jsonb   NOT NULL DEFAULT '{}',
    -- uint64 values stored as their int64 bit pattern.
    capabilities          bigint  NOT NULL,
    health                jsonb,
    effective_config      text    NOT NULL,
    effective_config_hash text    NOT NULL,
    remote_config         jsonb   NOT NULL,
    failed_config_hashes  text[]  NOT NULL DEFAULT '{}',
    connection_type       text    NOT NULL,
    online                boolean NOT NULL,
    server_id             text    NOT NULL,
    sequence_num          bigint  NOT NULL,
    first_seen            timestamptz NOT NULL,
    last_seen             timestamptz NOT NULL
);
-- Label selectors: labels @> '{"k":"v"}'.
CREATE INDEX agents_labels_idx ON agents USING gin (labels jsonb_path_ops);
-- MarkServerAgentsOffline.
CREATE INDEX agents_online_server_idx ON agents (server_id) WHERE online;

CREATE TABLE assignments (
    instance_uid text COLLATE "C" PRIMARY KEY,
    pipeline     text   NOT NULL,
    parameters   jsonb,
    config       text   NOT NULL,
    config_hash  text   NOT NULL,
    reason       text   NOT NULL,
    assigned_at  timestamptz NOT NULL,
    generation   bigint NOT NULL
);

-- The last generation of every agent ever assigned, kept when its
-- assignment is deleted so generations never repeat.
CREATE TABLE assignment_generations (
    instance_uid text COLLATE "C" PRIMARY KEY,
    generation   bigint NOT NULL
);

CREATE TABLE samples (
    instance_uid text COLLATE "C" NOT NULL,
    name         text COLLATE "C" NOT NULL,
    variant      text COLLATE "C" NOT NULL,
    minute       timestamptz NOT NULL,
    value        double precision NOT NULL,
    PRIMARY KEY (instance_uid, name, variant, minute)
);
-- Retention (DeleteSamplesBefore) and time-range queries across agents.
CREATE INDEX samples_minute_idx ON samples (minute);

CREATE TABLE experiments (
    id             text COLLATE "C" PRIMARY KEY,
    name           text   NOT NULL,
    status         text   NOT NULL,
    spec           jsonb  NOT NULL,
    state          jsonb,
    -- Compare-and-swap version: UpdateExperiment stores version + 1.
    version        bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- The last experiment_events.seq; incrementing it locks the row, which
    -- serializes concurrent appends.
    last_event_seq bigint NOT NULL DEFAULT 0
);
CREATE INDEX experiments_created_idx ON experiments (created_at, id);

CREATE TABLE experiment_events (
    experiment_id text COLLATE "C" NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    time          timestamptz NOT NULL,
    from_status   text   NOT NULL,
    to_status     text   NOT NULL,
    cause         text   NOT NULL,
    PRIMARY KEY (experiment_id, seq)
);
