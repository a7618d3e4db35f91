-- Each source's count of live items (`deleted_at IS NULL`), kept by statement-level triggers on
-- `items` in the writing transaction itself, so GET /api/v1/data-sources reads a column instead
-- of counting up to millions of rows per source on every call. Every write path (a stored page,
-- a deletion reconciled, a disconnect that deletes the items, an erase, and any future one)
-- moves the count by exactly what the statement did: the triggers sum the statement's
-- transition tables per source and touch only sources whose count changed.

-- Writers of items wait until the count and its triggers are in place (exact from the start).
LOCK TABLE items IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE data_sources ADD COLUMN item_count BIGINT NOT NULL DEFAULT 0;

UPDATE data_sources ds SET item_count = c.n
  FROM (SELECT data_source_id, count(*) AS n FROM items
         WHERE deleted_at IS NULL GROUP BY data_source_id) c
 WHERE ds.id = c.data_source_id;

CREATE FUNCTION items_count_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_sources ds SET item_count = ds.item_count + d.n
      FROM (SELECT data_source_id, count(*) AS n FROM inserted_items
             WHERE deleted_at IS NULL GROUP BY data_source_id) d
     WHERE ds.id = d.data_source_id;
    RETURN NULL;
END $$;

CREATE FUNCTION items_count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_sources ds SET item_count = ds.item_count - d.n
      FROM (SELECT data_source_id, count(*) AS n FROM deleted_items
             WHERE deleted_at IS NULL GROUP BY data_source_id) d
     WHERE ds.id = d.data_source_id;
    RETURN NULL;
END $$;

-- An update moves a source's count when it marks items deleted or brings them back (or, in
-- principle, moves an item to another source); other updates leave every count as it is.
CREATE FUNCTION items_count_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_sources ds SET item_count = ds.item_count + d.n
      FROM (SELECT data_source_id, sum(n) AS n
              FROM (SELECT data_source_id, 1 AS n FROM new_items WHERE deleted_at IS NULL
                    UNION ALL
                    SELECT data_source_id, -1 FROM old_items WHERE deleted_at IS NULL) x
             GROUP BY data_source_id HAVING sum(n) <> 0) d
     WHERE ds.id = d.data_source_id;
    RETURN NULL;
END $$;

CREATE TRIGGER items_count_inserted AFTER INSERT ON items
    REFERENCING NEW TABLE AS inserted_items
    FOR EACH STATEMENT EXECUTE FUNCTION items_count_inserted();
CREATE TRIGGER items_count_deleted AFTER DELETE ON items
    REFERENCING OLD TABLE AS deleted_items
    FOR EACH STATEMENT EXECUTE FUNCTION items_count_deleted();
CREATE TRIGGER items_count_updated AFTER UPDATE ON items
    REFERENCING OLD TABLE AS old_items NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION items_count_updated();
