-- Schema version 4: each replica's presence lease (Store.RenewPresence).
-- A replica whose lease has ended is gone: any other marks its agents
-- offline (Store.ExpirePresence).
CREATE TABLE server_presence (
    server_id text COLLATE "C" PRIMARY KEY,
    until     timestamptz NOT NULL
);
