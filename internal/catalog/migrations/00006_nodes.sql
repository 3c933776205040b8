-- +goose Up
-- The vpo serve processes (nodes) working this database, each refreshing its row
-- (heartbeat_at) while it runs: GET /api/nodes. (Version 5 is another change's.)
CREATE TABLE nodes (
    name         TEXT    PRIMARY KEY,
    version      TEXT    NOT NULL DEFAULT '',
    pid          INTEGER NOT NULL DEFAULT 0,
    workers      INTEGER NOT NULL DEFAULT 0,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL
);

-- +goose Down
DROP TABLE nodes;
