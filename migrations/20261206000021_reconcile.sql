-- Reconciliation of full syncs: the external ids a run saw at the provider, one row per stored
-- page (an array, not a row per item), so that at the end of a complete full run the items the
-- provider no longer has are marked deleted, and items a run saw leave one folder (Outlook)
-- but in no other are too. Rows live as long as their run is the source's latest; a run's end
-- removes them.
CREATE TABLE sync_run_seen (
    sync_run_id     UUID NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    data_source_id  UUID NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    -- true: at the provider (listed or fetched); false: reported gone from one folder.
    present         BOOLEAN NOT NULL,
    external_ids    TEXT[] NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sync_run_seen_run ON sync_run_seen (sync_run_id, present);
CREATE INDEX sync_run_seen_source ON sync_run_seen (data_source_id);
