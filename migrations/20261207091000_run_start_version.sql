-- The provider's content version read at a run's start (its profile request), kept with the run
-- so that a run resumed after a throttle, a crash or a redelivery still knows which version its
-- items match when it ends (data_sources.synced_version). NULL: the provider offers none.
ALTER TABLE sync_runs ADD COLUMN start_version TEXT;
