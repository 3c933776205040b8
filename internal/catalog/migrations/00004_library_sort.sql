-- +goose Up
-- The library's sorts (the web UI's Library page): by size and by modification
-- time, ties by id, each page one seek of its index (a keyset cursor). The path
-- sort uses the path's UNIQUE index.
CREATE INDEX files_size ON files (size, id);
CREATE INDEX files_mtime ON files (mtime_ns, id);
-- A file's page lists its plans: without this index that read every plan.
CREATE INDEX plans_file ON plans (file_id, id);

-- +goose Down
DROP INDEX plans_file;
DROP INDEX files_mtime;
DROP INDEX files_size;
