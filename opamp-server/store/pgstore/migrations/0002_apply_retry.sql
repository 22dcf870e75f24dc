-- Schema version 2: the server's plan to send a configuration again after
-- the supervisor's apply timeout (store.ApplyRetry); NULL when none.
ALTER TABLE agents ADD COLUMN apply_retry jsonb;
