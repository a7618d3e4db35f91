-- items_by_link_key ends with the id: the relink's lookups ask for a user's items of one key in
-- (occurred_at, id) order, LIMIT 1, and an index that answers in exactly that order is the plan
-- PostgreSQL picks with or without statistics. Without the id, a planner that had not analyzed
-- a freshly filled table preferred walking items_by_user in time order (src/db/duplicates.rs).
DROP INDEX IF EXISTS items_by_link_key;
CREATE INDEX items_by_link_key ON items (user_id, link_key, occurred_at, id)
    WHERE link_key IS NOT NULL;
