-- Schema version 6: samples keyed by agent, then minute. Every query of an
-- agent's samples bounds a window (an experiment's analysis, a rollout's
-- gate); keyed by series first, the window bounded nothing and a query
-- read the agent's whole retained history.
ALTER TABLE samples DROP CONSTRAINT samples_pkey;
ALTER TABLE samples ADD PRIMARY KEY (instance_uid, minute, name, variant);
