-- +goose Up
-- File paths become BLOBs: a file name need not be UTF-8, and a backend whose text
-- type rejects invalid UTF-8 (PostgreSQL's) must still hold it byte for byte. The
-- display form is derived when read. BLOBs compare bytewise, so the prefix range
-- queries on the path index still work.
--
-- Timestamps take River's format, SQLite's own "YYYY-MM-DD HH:MM:SS.SSS" in UTC,
-- so that the database holds one representation (and SQLite's date functions read
-- it). They were RFC 3339 text with nanoseconds.
--
-- SQLite cannot change a column's type in place: the two tables are rebuilt. The
-- new tracks table is filled before the old files table is dropped, so that the
-- cascade of that DROP (foreign keys are on) finds no tracks to delete; the
-- renames then point tracks' foreign key at the new files table.
CREATE TABLE files_new (
    id           INTEGER PRIMARY KEY,
    path         BLOB    NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    fingerprint  TEXT    NOT NULL DEFAULT '',
    container    TEXT    NOT NULL DEFAULT '',
    duration     REAL,
    bit_rate     INTEGER,
    probe_error  TEXT    NOT NULL DEFAULT '',
    probed_at    TEXT,
    missing      INTEGER NOT NULL DEFAULT 0,
    first_seen   TEXT    NOT NULL,
    last_seen    TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
INSERT INTO files_new (id, path, size, mtime_ns, fingerprint, container, duration, bit_rate, probe_error,
                       probed_at, missing, first_seen, last_seen, updated_at)
SELECT id, CAST(path AS BLOB), size, mtime_ns, fingerprint, container, duration, bit_rate, probe_error,
       strftime('%Y-%m-%d %H:%M:%f', probed_at), missing, strftime('%Y-%m-%d %H:%M:%f', first_seen),
       strftime('%Y-%m-%d %H:%M:%f', last_seen), strftime('%Y-%m-%d %H:%M:%f', updated_at)
FROM files;

CREATE TABLE tracks_new (
    id             INTEGER PRIMARY KEY,
    file_id        INTEGER NOT NULL REFERENCES files_new (id) ON DELETE CASCADE,
    idx            INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    codec          TEXT    NOT NULL DEFAULT '',
    language       TEXT    NOT NULL DEFAULT '',
    title          TEXT    NOT NULL DEFAULT '',
    is_default     INTEGER NOT NULL DEFAULT 0,
    is_forced      INTEGER NOT NULL DEFAULT 0,
    channels       INTEGER,
    channel_layout TEXT    NOT NULL DEFAULT '',
    width          INTEGER,
    height         INTEGER,
    frame_rate     REAL,
    UNIQUE (file_id, idx)
);
INSERT INTO tracks_new SELECT * FROM tracks;

DROP TABLE tracks;
DROP TABLE files;
ALTER TABLE files_new RENAME TO files;
ALTER TABLE tracks_new RENAME TO tracks;
CREATE INDEX files_container ON files (container);
CREATE INDEX files_missing ON files (missing) WHERE missing = 1;
CREATE INDEX tracks_codec ON tracks (codec, file_id);
CREATE INDEX tracks_language ON tracks (language, file_id);

UPDATE job_progress SET updated_at = strftime('%Y-%m-%d %H:%M:%f', updated_at);

-- +goose Down
-- Paths back to TEXT (SQLite keeps their bytes) and timestamps back to RFC 3339.
CREATE TABLE files_old (
    id           INTEGER PRIMARY KEY,
    path         TEXT    NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    fingerprint  TEXT    NOT NULL DEFAULT '',
    container    TEXT    NOT NULL DEFAULT '',
    duration     REAL,
    bit_rate     INTEGER,
    probe_error  TEXT    NOT NULL DEFAULT '',
    probed_at    TEXT,
    missing      INTEGER NOT NULL DEFAULT 0,
    first_seen   TEXT    NOT NULL,
    last_seen    TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
INSERT INTO files_old SELECT id, CAST(path AS TEXT), size, mtime_ns, fingerprint, container, duration, bit_rate,
       probe_error, strftime('%Y-%m-%dT%H:%M:%fZ', probed_at), missing, strftime('%Y-%m-%dT%H:%M:%fZ', first_seen),
       strftime('%Y-%m-%dT%H:%M:%fZ', last_seen), strftime('%Y-%m-%dT%H:%M:%fZ', updated_at)
FROM files;
CREATE TABLE tracks_old (
    id             INTEGER PRIMARY KEY,
    file_id        INTEGER NOT NULL REFERENCES files_old (id) ON DELETE CASCADE,
    idx            INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    codec          TEXT    NOT NULL DEFAULT '',
    language       TEXT    NOT NULL DEFAULT '',
    title          TEXT    NOT NULL DEFAULT '',
    is_default     INTEGER NOT NULL DEFAULT 0,
    is_forced      INTEGER NOT NULL DEFAULT 0,
    channels       INTEGER,
    channel_layout TEXT    NOT NULL DEFAULT '',
    width          INTEGER,
    height         INTEGER,
    frame_rate     REAL,
    UNIQUE (file_id, idx)
);
INSERT INTO tracks_old SELECT * FROM tracks;
DROP TABLE tracks;
DROP TABLE files;
ALTER TABLE files_old RENAME TO files;
ALTER TABLE tracks_old RENAME TO tracks;
CREATE INDEX files_container ON files (container);
CREATE INDEX files_missing ON files (missing) WHERE missing = 1;
CREATE INDEX tracks_codec ON tracks (codec, file_id);
CREATE INDEX tracks_language ON tracks (language, file_id);
UPDATE job_progress SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', updated_at);
