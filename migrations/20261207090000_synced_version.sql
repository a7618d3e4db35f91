-- The provider's content version (Gmail's history id; X's post count and newest post id) at
-- the start of the last run that left the source's items matching the provider completely (a
-- full run that reconciled to the end, or an incremental run of a provider whose change feed
-- reports deletions). NULL: unknown. A run that finds the provider at this version has nothing
-- to fetch (src/workers/sync_data_source). Cleared whenever the source's items or cursor stop
-- being that copy: disconnect (items deleted) and reconnect.
ALTER TABLE data_sources ADD COLUMN synced_version TEXT;
