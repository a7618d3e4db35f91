-- When a run last made progress (started, stored a page): the stuck-run deadline reads it.
ALTER TABLE sync_runs ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX sync_runs_active_progress ON sync_runs (updated_at)
    WHERE status IN ('queued', 'running');
