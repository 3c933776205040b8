-- +goose Up
-- The library's sorts and a file's plans, as SQLite's version 4.
CREATE INDEX files_size ON files (size, id);
CREATE INDEX files_mtime ON files (mtime_ns, id);
CREATE INDEX plans_file ON plans (file_id, id);

-- +goose Down
DROP INDEX plans_file;
DROP INDEX files_mtime;
DROP INDEX files_size;
