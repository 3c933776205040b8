-- +goose Up
-- Each file's tracks, packed into one column of its row, as in the SQLite
-- migration of the same number (see it for the why). The value is a JSON array
-- with one array per track, in idx order:
-- [idx, is_default, is_forced, channels, width, height, type, codec, language, title]
-- with the flags as 0 and 1 and a NULL number as 0, written without spaces, as
-- RecordFile writes it and the store's reader expects; '[]' without tracks.
ALTER TABLE files ADD COLUMN tracks_packed text NOT NULL DEFAULT '[]';
-- The files catalogued before this migration: their packed tracks from the tracks
-- table (to_json quotes and escapes the strings).
UPDATE files SET tracks_packed = (
    SELECT '[' || string_agg(concat('[', t.idx, ',', t.is_default::int, ',', t.is_forced::int, ',',
        coalesce(t.channels, 0), ',', coalesce(t.width, 0), ',', coalesce(t.height, 0), ',',
        to_json(t.type), ',', to_json(t.codec), ',', to_json(t.language), ',', to_json(t.title), ']'),
        ',' ORDER BY t.idx) || ']'
    FROM tracks t WHERE t.file_id = files.id)
WHERE EXISTS (SELECT 1 FROM tracks t WHERE t.file_id = files.id);

-- +goose Down
ALTER TABLE files DROP COLUMN tracks_packed;
