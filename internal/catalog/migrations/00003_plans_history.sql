-- +goose Up
-- Plans: what a policy would change in a file, kept so that an owner can review and
-- approve it before an apply job carries it out. size, mtime_ns and fingerprint are
-- the file's as the plan was made from it: an apply refuses a file that differs
-- (the plan is stale). At most one plan per file and policy is pending or approved;
-- a newer plan supersedes it. A plan whose apply left the file still not conformant
-- has converges = 0 and result_fingerprint set: vpo does not apply that policy
-- (policy_hash) to that file version again.
CREATE TABLE plans (
    id                 INTEGER PRIMARY KEY,
    file_id            INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    path               BLOB    NOT NULL,
    policy             TEXT    NOT NULL,
    policy_hash        TEXT    NOT NULL,
    size               INTEGER NOT NULL,
    mtime_ns           INTEGER NOT NULL,
    fingerprint        TEXT    NOT NULL,
    plan               TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    error              TEXT    NOT NULL DEFAULT '',
    converges          INTEGER NOT NULL DEFAULT 1,
    result_fingerprint TEXT    NOT NULL DEFAULT '',
    job_id             INTEGER,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL
);
CREATE UNIQUE INDEX plans_open ON plans (file_id, policy) WHERE state IN ('pending', 'approved');
CREATE INDEX plans_state ON plans (state, id);
CREATE INDEX plans_path ON plans (path);
CREATE INDEX plans_no_converge ON plans (file_id, policy_hash, result_fingerprint) WHERE converges = 0;

-- History: one entry per file an apply changed or failed to change.
CREATE TABLE history (
    id            INTEGER PRIMARY KEY,
    file_id       INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    plan_id       INTEGER REFERENCES plans (id) ON DELETE SET NULL,
    job_id        INTEGER,
    path          BLOB    NOT NULL,
    new_path      BLOB    NOT NULL,
    policy        TEXT    NOT NULL,
    policy_hash   TEXT    NOT NULL,
    phases        TEXT    NOT NULL DEFAULT '[]',
    tracks_before TEXT    NOT NULL DEFAULT '[]',
    tracks_after  TEXT    NOT NULL DEFAULT '[]',
    tool          TEXT    NOT NULL DEFAULT '',
    tool_version  TEXT    NOT NULL DEFAULT '',
    bytes         INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    result        TEXT    NOT NULL,
    error         TEXT    NOT NULL DEFAULT '',
    created_at    TEXT    NOT NULL
);
CREATE INDEX history_file ON history (file_id, id);

-- Claims: a file an apply job is working on. Two jobs never work on one file at
-- once; a daemon killed mid-apply leaves its claims, whose directories the next
-- start cleans (temp files) before it drops them.
CREATE TABLE file_claims (
    file_id    INTEGER PRIMARY KEY,
    path       BLOB    NOT NULL,
    job_id     INTEGER NOT NULL,
    claimed_at TEXT    NOT NULL
);

-- The counters of plan and apply jobs, beside the scan counters.
ALTER TABLE job_progress ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_progress ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_progress ADD COLUMN conformant INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_progress ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_progress ADD COLUMN planned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_progress ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE job_progress DROP COLUMN bytes;
ALTER TABLE job_progress DROP COLUMN planned;
ALTER TABLE job_progress DROP COLUMN skipped;
ALTER TABLE job_progress DROP COLUMN conformant;
ALTER TABLE job_progress DROP COLUMN changed;
ALTER TABLE job_progress DROP COLUMN done;
DROP TABLE file_claims;
DROP TABLE history;
DROP TABLE plans;
