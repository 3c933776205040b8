-- +goose Up
-- Each file's tracks, packed into one column of its row: the policy dry run
-- (Store.EachFile) and the listing (Store.ListFileEntries) read a file and its
-- tracks as one row with one more column, instead of building the column from the
-- tracks table per row and per request (json_group_array in every read: about half
-- of a dry run's CPU, docs/benchmarks.md). The tracks table stays the source of
-- truth for every other query; RecordFile writes both in one transaction.
--
-- The value is a JSON array with one array per track, in idx order:
-- [idx, is_default, is_forced, channels, width, height, type, codec, language, title]
-- (a NULL number is 0); '[]' for a file without tracks.
ALTER TABLE files ADD COLUMN tracks_packed TEXT NOT NULL DEFAULT '[]';
-- The files catalogued before this migration: their packed tracks from the tracks
-- table. (PostgreSQL: the string_agg of migrations/postgres/00005.)
UPDATE files SET tracks_packed = (
    SELECT json_group_array(json_array(t.idx, t.is_default, t.is_forced, coalesce(t.channels, 0),
        coalesce(t.width, 0), coalesce(t.height, 0), t.type, t.codec, t.language, t.title) ORDER BY t.idx)
    FROM tracks t WHERE t.file_id = files.id)
WHERE EXISTS (SELECT 1 FROM tracks t WHERE t.file_id = files.id);

-- +goose Down
ALTER TABLE files DROP COLUMN tracks_packed;
