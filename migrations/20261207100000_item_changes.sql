-- The changes feed (GET /api/v1/items/changes): every write to an item stamps it with a
-- per-user change sequence, and every deleted row leaves a tombstone with one, so a client can
-- follow a user's changes in commit order (src/db/changes.rs).
--
-- A transaction takes one sequence number per user, at its first item write, from that user's
-- counter row; the row stays locked until the transaction ends, so the transactions writing one
-- user's items commit in the order of their numbers, and a reader that sees number n sees
-- every number below it. All of a transaction's changes share its number (ordered by item id
-- within it). Triggers stamp every write path, present and future, without a line of Rust.

CREATE TABLE item_change_counters (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL
);

CREATE TABLE item_tombstones (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    change_seq BIGINT NOT NULL,
    item_id    UUID NOT NULL,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, change_seq, item_id)
);

-- Items stored before the feed existed are change 0: a feed read from the start returns them.
ALTER TABLE items ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX items_by_change ON items (user_id, change_seq, id);

-- This transaction's change number for `uid`: taken once (the counter row locked until the
-- transaction ends), then read back from a transaction-local setting.
CREATE FUNCTION lifesync_change_seq(uid TEXT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    cached TEXT := current_setting('lifesync.change_seq', true);
    seq    BIGINT;
BEGIN
    IF cached IS NOT NULL AND cached <> ''
       AND substr(cached, strpos(cached, ':') + 1) = uid THEN
        RETURN split_part(cached, ':', 1)::BIGINT;
    END IF;
    INSERT INTO item_change_counters AS c (user_id, seq) VALUES (uid, 1)
        ON CONFLICT (user_id) DO UPDATE SET seq = c.seq + 1
        RETURNING c.seq INTO seq;
    PERFORM set_config('lifesync.change_seq', seq::TEXT || ':' || uid, true);
    RETURN seq;
END $$;

CREATE FUNCTION items_stamp_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := lifesync_change_seq(NEW.user_id);
    RETURN NEW;
END $$;

CREATE TRIGGER items_stamp_change BEFORE INSERT OR UPDATE ON items
    FOR EACH ROW EXECUTE FUNCTION items_stamp_change();

-- Once per statement, over its deleted rows (a source's 100,000 items in one INSERT).
CREATE FUNCTION items_leave_tombstones() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH seqs AS (
        SELECT u.user_id, lifesync_change_seq(u.user_id) AS seq
          FROM (SELECT DISTINCT user_id FROM gone) u
    )
    INSERT INTO item_tombstones (user_id, change_seq, item_id)
    SELECT g.user_id, s.seq, g.id FROM gone g JOIN seqs s USING (user_id)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER items_leave_tombstones AFTER DELETE ON items
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION items_leave_tombstones();
