-- The life timeline (GET /api/v1/timeline): trips, events and moments built from a user's
-- normalized items by the `BuildTimeline` job (src/timeline, src/workers/build_timeline.rs,
-- queries in src/db/timeline.rs).
--
-- An entry's items are rows of timeline_entry_items, each with its role; deleting an item
-- (a disconnect, an erase) deletes its rows by cascade, and a statement trigger then removes
-- every entry left without items and marks the others `dirty`, so the next build looks at them
-- again. Entry ids are deterministic (the rule and its anchor items), so a rebuild replaces an
-- entry under the same id.

CREATE TABLE timeline_entries (
    id          UUID PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        TEXT NOT NULL CHECK (type IN ('trip', 'event', 'moment')),
    title       TEXT NOT NULL,
    start_at    TIMESTAMPTZ NOT NULL,
    end_at      TIMESTAMPTZ NOT NULL CHECK (end_at >= start_at),
    place_name  TEXT,
    place_lat   DOUBLE PRECISION,
    place_lon   DOUBLE PRECISION,
    confidence  REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    rule        TEXT NOT NULL,
    dirty       BOOLEAN NOT NULL DEFAULT false,
    built_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Keyset pagination, oldest first, and the windows of an incremental build.
CREATE INDEX timeline_entries_by_user ON timeline_entries (user_id, start_at, id);
CREATE INDEX timeline_entries_by_type ON timeline_entries (user_id, type, start_at, id);

CREATE TABLE timeline_entry_items (
    entry_id  UUID NOT NULL REFERENCES timeline_entries (id) ON DELETE CASCADE,
    item_id   UUID NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('reservation', 'photo', 'post', 'email')),
    PRIMARY KEY (entry_id, item_id)
);
CREATE INDEX timeline_entry_items_by_item ON timeline_entry_items (item_id);

-- Where a user's timeline stands: the item change number it was built from (see
-- 20261207100000_item_changes) and the home place found by the last full build.
CREATE TABLE timeline_state (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    built_seq   BIGINT NOT NULL,
    home_lat    DOUBLE PRECISION,
    home_lon    DOUBLE PRECISION,
    built_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Once per statement over the removed item rows: an entry left empty goes, the others are
-- marked for the next build.
CREATE FUNCTION timeline_items_gone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM timeline_entries e
     WHERE e.id IN (SELECT DISTINCT entry_id FROM gone)
       AND NOT EXISTS (SELECT 1 FROM timeline_entry_items i WHERE i.entry_id = e.id);
    UPDATE timeline_entries e SET dirty = true
     WHERE e.id IN (SELECT DISTINCT entry_id FROM gone) AND NOT e.dirty;
    RETURN NULL;
END $$;

CREATE TRIGGER timeline_items_gone AFTER DELETE ON timeline_entry_items
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION timeline_items_gone();
