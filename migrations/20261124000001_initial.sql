-- lifesync's initial schema: users, their connected data sources, encrypted OAuth tokens,
-- sync runs and normalized items. Enumerations are CHECK constraints on text (cheap to extend
-- in a later migration); provider account ids are text (some exceed 2^53).

CREATE TABLE users (
    id          TEXT PRIMARY KEY,                     -- the JWT `sub`
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE data_sources (
    id                UUID PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider          TEXT NOT NULL CHECK (provider IN
                        ('instagram', 'twitter', 'google', 'facebook', 'linkedin', 'microsoft')),
    account_id        TEXT NOT NULL,                  -- the provider's account id
    account_name      TEXT,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN
                        ('active', 'reauth_required', 'disconnected', 'error')),
    cursor_state      JSONB NOT NULL DEFAULT '{}',    -- per-source incremental cursors
    connected_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_sync_at      TIMESTAMPTZ,
    last_sync_status  TEXT CHECK (last_sync_status IN ('succeeded', 'failed')),
    last_sync_error   TEXT,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, provider, account_id)
);
CREATE INDEX data_sources_status ON data_sources (status, provider);

-- Access and refresh tokens sealed with AES-256-GCM (nonce || ciphertext || tag) under the key
-- named by key_id, so keys can be rotated; never stored in clear.
CREATE TABLE oauth_tokens (
    data_source_id     UUID PRIMARY KEY REFERENCES data_sources (id) ON DELETE CASCADE,
    key_id             TEXT NOT NULL,
    access_token_enc   BYTEA NOT NULL CHECK (octet_length(access_token_enc) > 28),
    refresh_token_enc  BYTEA CHECK (octet_length(refresh_token_enc) > 28),
    expires_at         TIMESTAMPTZ,
    scopes             TEXT[] NOT NULL DEFAULT '{}',
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE sync_runs (
    id               UUID PRIMARY KEY,
    data_source_id   UUID NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    mode             TEXT NOT NULL CHECK (mode IN ('full', 'incremental')),
    trigger          TEXT NOT NULL CHECK (trigger IN ('oauth', 'manual', 'daily', 'incremental', 'admin')),
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
                       ('queued', 'running', 'succeeded', 'failed')),
    job_id           TEXT,
    items_fetched    INTEGER NOT NULL DEFAULT 0 CHECK (items_fetched >= 0),
    items_new        INTEGER NOT NULL DEFAULT 0 CHECK (items_new >= 0),
    items_updated    INTEGER NOT NULL DEFAULT 0 CHECK (items_updated >= 0),
    items_duplicate  INTEGER NOT NULL DEFAULT 0 CHECK (items_duplicate >= 0),
    page_cursor      TEXT,                            -- the next page to fetch (resume point)
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX sync_runs_history ON sync_runs (data_source_id, created_at DESC);
-- At most one queued or running sync per data source, whatever the trigger.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (data_source_id)
    WHERE status IN ('queued', 'running');

CREATE TABLE items (
    id              UUID PRIMARY KEY,
    data_source_id  UUID NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('post', 'media', 'email')),
    external_id     TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    text            TEXT NOT NULL DEFAULT '',        -- sanitized
    category        TEXT CHECK (category IN ('TRAVEL_FLIGHT', 'TRAVEL_HOTEL', 'EVENT_TICKET',
                      'BOOKING', 'PROFESSIONAL', 'PERSONAL', 'OTHER')),
    is_event        BOOLEAN NOT NULL DEFAULT false,
    event           JSONB,
    mentions        TEXT[] NOT NULL DEFAULT '{}',
    hashtags        TEXT[] NOT NULL DEFAULT '{}',
    dates           DATE[] NOT NULL DEFAULT '{}',
    location        JSONB,
    media_url       TEXT,
    permalink       TEXT,
    metrics         JSONB NOT NULL DEFAULT '{}',
    content_hash    BYTEA NOT NULL CHECK (octet_length(content_hash) = 32),   -- SHA-256
    duplicate_of    UUID REFERENCES items (id) ON DELETE SET NULL,
    deleted_at      TIMESTAMPTZ,                     -- the provider reported a deletion
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (category IS NULL OR kind = 'email'),
    UNIQUE (data_source_id, external_id)
);
-- Keyset pagination of a user's items, newest first, with the API's filters.
CREATE INDEX items_by_user ON items (user_id, occurred_at DESC, id DESC);
CREATE INDEX items_by_source ON items (data_source_id, occurred_at DESC, id DESC);
CREATE INDEX items_by_kind ON items (user_id, kind, occurred_at DESC, id DESC);
CREATE INDEX items_by_category ON items (user_id, category, occurred_at DESC, id DESC)
    WHERE category IS NOT NULL;
-- Cross-provider duplicates: the first item with the same content in this user's data.
CREATE INDEX items_by_hash ON items (user_id, content_hash, created_at);
