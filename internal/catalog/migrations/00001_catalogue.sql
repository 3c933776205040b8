-- +goose Up
-- The catalogue: one row per video file ever seen under a scanned directory, and one
-- row per track of each file. Paths are stored byte for byte as the file system
-- gives them (TEXT holds any bytes in SQLite), since file names need not be UTF-8.
CREATE TABLE files (
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
CREATE INDEX files_container ON files (container);
CREATE INDEX files_missing ON files (missing) WHERE missing = 1;

CREATE TABLE tracks (
    id             INTEGER PRIMARY KEY,
    file_id        INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
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
CREATE INDEX tracks_codec ON tracks (codec, file_id);
CREATE INDEX tracks_language ON tracks (language, file_id);

-- Progress and history of vpo's jobs. The job itself lives in River's river_job table;
-- this table is vpo's own so that River's schema stays River's.
CREATE TABLE job_progress (
    job_id     INTEGER PRIMARY KEY,
    found      INTEGER NOT NULL DEFAULT 0,
    probed     INTEGER NOT NULL DEFAULT 0,
    unchanged  INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    missing    INTEGER NOT NULL DEFAULT 0,
    notes      TEXT    NOT NULL DEFAULT '[]',
    updated_at TEXT    NOT NULL
);

-- +goose Down
DROP TABLE job_progress;
DROP TABLE tracks;
DROP TABLE files;
