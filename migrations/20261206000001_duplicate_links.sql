-- duplicate_of by link key (src/db/duplicates.rs): each item's key of canonical content
-- (NULL: never links), the index that finds a user's items of one key, and the index the
-- duplicate_of foreign key needs (ON DELETE SET NULL looks up the rows pointing at each
-- deleted item; without it every deleted item scanned the table).
ALTER TABLE items
    ADD COLUMN link_key BYTEA CHECK (link_key IS NULL OR octet_length(link_key) = 32);
CREATE INDEX items_by_link_key ON items (user_id, link_key, occurred_at)
    WHERE link_key IS NOT NULL;
CREATE INDEX items_by_duplicate_of ON items (duplicate_of);
DROP INDEX IF EXISTS items_by_hash;
-- Links made by the old rule (same kind and hash, any source, any time) are dropped; each
-- item links again by the new rule when its source next stores it.
UPDATE items SET duplicate_of = NULL WHERE duplicate_of IS NOT NULL;
