-- A run ends `cancelled` when its source is disconnected or deleted while it runs: an expected
-- ending (the user's choice), neither a success nor a failure to retry.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check CHECK (status IN
    ('queued', 'running', 'succeeded', 'failed', 'cancelled'));
