-- +goose Up
-- SQLite's version 2 made paths bytes and timestamps River's text format; on
-- PostgreSQL version 1 already has that representation. This version keeps the
-- numbers of the two dialects the same.
SELECT 1;

-- +goose Down
SELECT 1;
