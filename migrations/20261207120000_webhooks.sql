-- Webhooks: the caller's endpoints, the events that happened to them, one delivery per (event,
-- endpoint) and every attempt at it (src/db/webhooks.rs, src/webhooks/).
--
-- An event is written in the transaction that made it happen — by the triggers below when a
-- sync run ends or a source's status changes, by lifesync_webhook_emit from Rust for OAuth
-- completions — so none is lost between a commit and a notification, and none is written for a
-- user without an endpoint that wants it. Each delivery starts undispatched; the dispatcher of
-- every worker (woken by NOTIFY lifesync_webhooks, and sweeping every few seconds) enqueues
-- them as jobs on the `webhooks` queue.

CREATE TABLE webhook_endpoints (
    id                          UUID PRIMARY KEY,
    user_id                     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                         TEXT NOT NULL,
    events                      TEXT[] NOT NULL,
    description                 TEXT,
    enabled                     BOOLEAN NOT NULL DEFAULT true,
    -- The signing secret (`whsec_…`), sealed with the token key like provider tokens; after a
    -- rotation the previous one signs too until previous_secret_expires_at.
    sealed_secret               TEXT NOT NULL,
    sealed_previous_secret      TEXT,
    previous_secret_expires_at  TIMESTAMPTZ,
    -- The first failed attempt since the last delivered one (NULL: the last attempt worked).
    failing_since               TIMESTAMPTZ,
    -- `failing` once a delivery ran out of its retry window; `active` again at the next success.
    status                      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failing')),
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_by_user ON webhook_endpoints (user_id, created_at, id);

CREATE TABLE webhook_events (
    id          UUID PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    -- Ids and counts only: never item content or tokens.
    data        JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_by_age ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    endpoint_id      UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         UUID NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- Retries go on until 24 hours after this (the event's time, or a re-drive's).
    window_start     TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_attempt_at  TIMESTAMPTZ,
    dispatched       BOOLEAN NOT NULL DEFAULT false,
    finished_at      TIMESTAMPTZ,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_undispatched ON webhook_deliveries (id) WHERE NOT dispatched;

CREATE TABLE webhook_attempts (
    id           BIGSERIAL PRIMARY KEY,
    delivery_id  BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id  UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome      TEXT NOT NULL CHECK (outcome IN ('delivered', 'retried', 'failed')),
    status_code  INTEGER,
    latency_ms   INTEGER NOT NULL,
    -- Our words for a failure without a status (timeout, refused target); never the body.
    error        TEXT
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, id DESC);

-- Records event `kind` for user `uid` with one delivery per enabled endpoint of theirs that
-- subscribes to it (none, and nothing is written); returns the deliveries made. An event id
-- given by the caller makes the event once-only: the same id again records nothing.
CREATE FUNCTION lifesync_webhook_emit(uid TEXT, kind TEXT, payload JSONB,
                                      given_id UUID DEFAULT NULL) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    event_id UUID := COALESCE(given_id, gen_random_uuid());
    made     INTEGER;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints
                    WHERE user_id = uid AND enabled AND kind = ANY (events)) THEN
        RETURN 0;
    END IF;
    INSERT INTO webhook_events (id, user_id, type, data) VALUES (event_id, uid, kind, payload)
        ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    INSERT INTO webhook_deliveries (endpoint_id, event_id)
    SELECT id, event_id FROM webhook_endpoints
     WHERE user_id = uid AND enabled AND kind = ANY (events)
     ORDER BY id;
    GET DIAGNOSTICS made = ROW_COUNT;
    PERFORM pg_notify('lifesync_webhooks', '');
    RETURN made;
END $$;

-- The changes-feed cursor (GET /api/v1/items/changes) just after change number `seq`: the
-- API's encoding, base64url of `c<seq>|<uuid>` without padding (src/api/changes.rs).
CREATE FUNCTION lifesync_change_cursor(seq BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT translate(rtrim(encode(convert_to(
               'c' || seq || '|ffffffff-ffff-ffff-ffff-ffffffffffff', 'UTF8'), 'base64'), '='),
           '+/' || chr(10), '-_')
$$;

-- A run remembers the user's last change number when it starts: its items.changed event
-- points the client at the feed from there.
ALTER TABLE sync_runs ADD COLUMN changes_from BIGINT;

-- sync.succeeded / sync.failed when a run ends, and items.changed (at most one per run) when
-- it stored something or the user's items changed since it started (a full sync's deletions).
CREATE FUNCTION sync_runs_webhook_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    uid  TEXT;
    prov TEXT;
BEGIN
    IF NEW.status NOT IN ('succeeded', 'failed')
       OR OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
        RETURN NULL;
    END IF;
    SELECT user_id, provider INTO uid, prov FROM data_sources WHERE id = NEW.data_source_id;
    IF uid IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE user_id = uid AND enabled) THEN
        RETURN NULL;
    END IF;
    PERFORM lifesync_webhook_emit(uid, 'sync.' || NEW.status, jsonb_build_object(
        'data_source_id', NEW.data_source_id, 'provider', prov, 'sync_run_id', NEW.id,
        'mode', NEW.mode, 'trigger', NEW.trigger, 'status', NEW.status,
        'items_fetched', NEW.items_fetched, 'items_new', NEW.items_new,
        'items_updated', NEW.items_updated, 'items_duplicate', NEW.items_duplicate));
    IF NEW.items_new + NEW.items_updated > 0
       OR COALESCE((SELECT seq FROM item_change_counters WHERE user_id = uid), 0)
          > COALESCE(NEW.changes_from, -1) THEN
        PERFORM lifesync_webhook_emit(uid, 'items.changed', jsonb_build_object(
            'data_source_id', NEW.data_source_id, 'provider', prov, 'sync_run_id', NEW.id,
            'items_new', NEW.items_new, 'items_updated', NEW.items_updated,
            'cursor', lifesync_change_cursor(COALESCE(NEW.changes_from, -1))));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sync_runs_webhook_events AFTER UPDATE OF status ON sync_runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION sync_runs_webhook_events();

-- data_source.status_changed whenever a source's status changes (active, reauth_required,
-- disconnected, …).
CREATE FUNCTION data_sources_webhook_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lifesync_webhook_emit(NEW.user_id, 'data_source.status_changed', jsonb_build_object(
        'data_source_id', NEW.id, 'provider', NEW.provider,
        'status', NEW.status, 'previous_status', OLD.status));
    RETURN NULL;
END $$;

CREATE TRIGGER data_sources_webhook_events AFTER UPDATE OF status ON data_sources
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION data_sources_webhook_events();
