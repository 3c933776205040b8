-- +goose Up
-- The nodes, as SQLite's version 6. (Version 5 is another change's.)
CREATE TABLE nodes (
    name         text    COLLATE "C" PRIMARY KEY,
    version      text    NOT NULL DEFAULT '',
    pid          bigint  NOT NULL DEFAULT 0,
    workers      integer NOT NULL DEFAULT 0,
    started_at   text    NOT NULL,
    heartbeat_at text    NOT NULL
);

-- +goose Down
DROP TABLE nodes;
