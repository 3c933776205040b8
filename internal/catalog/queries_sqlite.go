package catalog

// fileColumnsSQLite are the files columns scanFile reads, in its order.
const fileColumnsSQLite = `id, path, size, mtime_ns, fingerprint, container, duration, bit_rate, probe_error,
probed_at, missing, first_seen, updated_at`

// planColumnsSQLite are the plans columns scanPlan reads, in its order.
const planColumnsSQLite = `id, file_id, path, policy, policy_hash, size, mtime_ns, fingerprint, plan, state, error,
converges, result_fingerprint, job_id, created_at, updated_at`

// sqliteQueries is the SQLite dialect (modernc.org/sqlite).
var sqliteQueries = queries{
	journalMode: `PRAGMA journal_mode`,
	// A read that touches the schema proves the file is a database we can read.
	countSchemaObjects: `SELECT count(*) FROM sqlite_schema`,
	gooseTableExists:   `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'goose_db_version'`,
	gooseVersion:       `SELECT max(version_id) FROM goose_db_version WHERE is_applied = 1`,
	probe:              `SELECT count(*) FROM goose_db_version`,
	checkpoint:         `PRAGMA wal_checkpoint(TRUNCATE)`,

	knownFiles: `SELECT id, path, size, mtime_ns, missing, probed_at IS NOT NULL FROM files WHERE path >= ? AND path < ?`,
	upsertFile: `
INSERT INTO files (path, size, mtime_ns, fingerprint, container, duration, bit_rate, probe_error,
                   probed_at, missing, first_seen, last_seen, updated_at, tracks_packed)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
ON CONFLICT (path) DO UPDATE SET
    size = excluded.size, mtime_ns = excluded.mtime_ns, fingerprint = excluded.fingerprint,
    container = excluded.container, duration = excluded.duration, bit_rate = excluded.bit_rate,
    probe_error = excluded.probe_error, probed_at = excluded.probed_at, missing = 0,
    last_seen = excluded.last_seen, updated_at = excluded.updated_at, tracks_packed = excluded.tracks_packed
RETURNING id`,
	deleteTracks: `DELETE FROM tracks WHERE file_id = ?`,
	insertTrack: `
INSERT INTO tracks (file_id, idx, type, codec, language, title, is_default, is_forced,
                    channels, channel_layout, width, height, frame_rate)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	setMissing:  `UPDATE files SET missing = ?, updated_at = ? WHERE id = ?`,
	selectFiles: `SELECT ` + fileColumnsSQLite + ` FROM files`,
	// The packed tracks are stored with the file (migration 00005), so a file
	// and its tracks are one row: no join, no aggregation per read.
	selectFilesWithTracks: `SELECT ` + fileColumnsSQLite + `, tracks_packed FROM files`,
	// Two subqueries, so that each is one seek of the rowid index.
	fileIDRange: `SELECT (SELECT min(id) FROM files WHERE id > ?), (SELECT max(id) FROM files)`,
	fileByID:    `SELECT ` + fileColumnsSQLite + ` FROM files WHERE id = ?`,
	fileByPath:  `SELECT ` + fileColumnsSQLite + ` FROM files WHERE path = ?`,
	tracksOfFile: `
SELECT idx, type, codec, language, title, is_default, is_forced, channels, channel_layout, width, height, frame_rate
FROM tracks WHERE file_id = ? ORDER BY idx`,
	filterAfter:    `id > ?`,
	filterUpTo:     `id <= ?`,
	filterPrefix:   `path >= ? AND path < ?`,
	filterContain:  `instr(',' || container || ',', ',' || ? || ',') > 0`,
	filterCodec:    `EXISTS (SELECT 1 FROM tracks t WHERE t.file_id = files.id AND t.codec = ?)`,
	filterLanguage: `EXISTS (SELECT 1 FROM tracks t WHERE t.file_id = files.id AND t.language = ?)`,
	filterMissing:  `missing = ?`,
	// Portable SQL: SQLite builds the list of file ids from the covering
	// index and seeks each file by its rowid, in id order.
	filterCodecIn:    `id IN (SELECT file_id FROM tracks WHERE codec = ?)`,
	filterLanguageIn: `id IN (SELECT file_id FROM tracks WHERE language = ?)`,
	countCodec:       `SELECT count(*) FROM (SELECT 1 FROM tracks WHERE codec = ? AND file_id > ? LIMIT ?) AS t`,
	countLanguage:    `SELECT count(*) FROM (SELECT 1 FROM tracks WHERE language = ? AND file_id > ? LIMIT ?) AS t`,
	// Portable SQL: a loose index scan of files_container (SQLite has none of
	// its own), one seek per distinct name.
	distinctContainers: `WITH RECURSIVE c (v) AS (SELECT min(container) FROM files
  UNION ALL SELECT (SELECT min(container) FROM files WHERE container > c.v) FROM c WHERE c.v IS NOT NULL)
SELECT v FROM c WHERE v IS NOT NULL`,
	countContainersIn: `SELECT count(*) FROM (SELECT 1 FROM files WHERE container IN (%s) AND id > ? LIMIT ?) AS t`,
	filterContainerIn: `container IN (%s)`,
	filterNothing:     `1 = 0`,
	orderByIDLimit:    ` ORDER BY id LIMIT ?`,
	// Portable SQL (row values: SQLite 3.15, PostgreSQL). The search reads the
	// path as text (LIKE on the BLOB itself matches nothing); SQLite's LIKE
	// ignores the case of ASCII letters. With no index to use it tests every
	// file until the page is full: 7 ms for all 100,000 (docs/benchmarks.md).
	filterSearch:    `CAST(path AS TEXT) LIKE ? ESCAPE '\'`,
	filterIDCmp:     `id %s ?`,
	filterAfterKey:  `(%[1]s, id) %[2]s ((SELECT %[1]s FROM files WHERE id = ?), ?)`,
	orderByKeyLimit: ` ORDER BY %[1]s %[2]s, id %[2]s LIMIT ?`,

	saveProgress: `
INSERT INTO job_progress (job_id, found, probed, unchanged, failed, missing,
                          done, planned, changed, conformant, skipped, bytes, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id) DO UPDATE SET found = excluded.found, probed = excluded.probed,
    unchanged = excluded.unchanged, failed = excluded.failed, missing = excluded.missing,
    done = excluded.done, planned = excluded.planned, changed = excluded.changed,
    conformant = excluded.conformant, skipped = excluded.skipped, bytes = excluded.bytes,
    updated_at = excluded.updated_at`,
	addNote: `
INSERT INTO job_progress (job_id, notes, updated_at) VALUES (?, json_array(json(?)), ?)
ON CONFLICT (job_id) DO UPDATE SET notes = json_insert(notes, '$[#]', json(?)), updated_at = excluded.updated_at`,
	getProgress: `
SELECT job_id, found, probed, unchanged, failed, missing,
       done, planned, changed, conformant, skipped, bytes, notes, updated_at FROM job_progress
WHERE job_id IN (?)`,

	// One pass over the files table: "failed" has no index, and the caller
	// (internal/metrics) caches the result for a few seconds.
	fileStats: `SELECT count(*), coalesce(sum(missing = 1), 0), coalesce(sum(missing = 0 AND probe_error <> ''), 0) FROM files`,
	// Portable SQL. Each breakdown reads one index: files_container,
	// tracks_codec (codec, file_id) and tracks_language (language, file_id).
	totalsFiles: `SELECT count(*), coalesce(sum(CASE WHEN missing = 1 THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN probe_error <> '' THEN 1 ELSE 0 END), 0) FROM files`,
	totalsContainers: `SELECT container, count(*) FROM files GROUP BY container ORDER BY 2 DESC, 1 LIMIT ?`,
	totalsCodecs:     `SELECT codec, count(DISTINCT file_id) FROM tracks GROUP BY codec ORDER BY 2 DESC, 1 LIMIT ?`,
	totalsLanguages:  `SELECT language, count(DISTINCT file_id) FROM tracks GROUP BY language ORDER BY 2 DESC, 1 LIMIT ?`,
	insertPlan: `
INSERT INTO plans (file_id, path, policy, policy_hash, size, mtime_ns, fingerprint, plan, state, job_id,
                   created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id`,
	supersedeOpen: `UPDATE plans SET state = 'superseded', updated_at = ?
WHERE file_id = ? AND policy = ? AND state IN ('pending', 'approved')`,
	openPlan:    `SELECT ` + planColumnsSQLite + ` FROM plans WHERE file_id = ? AND policy = ? AND state IN ('pending', 'approved')`,
	selectPlans: `SELECT ` + planColumnsSQLite + ` FROM plans`,
	planByID:    `SELECT ` + planColumnsSQLite + ` FROM plans WHERE id = ?`,
	// ?1 new state, ?2 error, ?3 updated_at, ?4 id; the states it may leave follow.
	setPlanState: `UPDATE plans SET state = ?, error = ?, updated_at = ? WHERE id = ? AND state IN (%s)`,
	finishPlan: `UPDATE plans SET state = ?, error = ?, converges = ?, result_fingerprint = ?, job_id = ?, updated_at = ?
WHERE id = ?`,
	noConverge: `SELECT count(*) FROM plans
WHERE file_id = ? AND policy_hash = ? AND result_fingerprint = ? AND converges = 0`,
	planFilterState:  `state = ?`,
	planFilterPolicy: `policy = ?`,
	planFilterFile:   `file_id = ?`,
	renameFile:       `UPDATE files SET path = ?, updated_at = ? WHERE id = ?`,
	dropOtherAtPath:  `DELETE FROM files WHERE path = ? AND id <> ?`,
	insertHistory: `
INSERT INTO history (file_id, plan_id, job_id, path, new_path, policy, policy_hash, phases, tracks_before,
                     tracks_after, tool, tool_version, bytes, duration_ms, result, error, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	historyOfFile: `
SELECT id, file_id, plan_id, job_id, path, new_path, policy, policy_hash, phases, tracks_before, tracks_after,
       tool, tool_version, bytes, duration_ms, result, error, created_at
FROM history WHERE file_id = ? AND id > ? ORDER BY id LIMIT ?`,
	claimFile: `
INSERT INTO file_claims (file_id, path, job_id, claimed_at) VALUES (?, ?, ?, ?)
ON CONFLICT (file_id) DO UPDATE SET claimed_at = excluded.claimed_at WHERE file_claims.job_id = excluded.job_id
RETURNING job_id`,
	releaseFile:      `DELETE FROM file_claims WHERE file_id = ? AND job_id = ?`,
	releaseJobClaims: `DELETE FROM file_claims WHERE job_id = ?`,
	listClaims:       `SELECT file_id, path, job_id, claimed_at FROM file_claims ORDER BY file_id`,
	clearClaims:      `DELETE FROM file_claims`,

	upsertNode: `
INSERT INTO nodes (name, version, pid, workers, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET version = excluded.version, pid = excluded.pid, workers = excluded.workers,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
	listNodes: `SELECT name, version, pid, workers, started_at, heartbeat_at FROM nodes ORDER BY name`,
	// One daemon per SQLite database: every running job is its.
	runningByNode: `SELECT id, kind, '' FROM river_job WHERE state = 'running' ORDER BY id`,

	// River's table. River's SQLite driver stores timestamps as text in SQLite's
	// "YYYY-MM-DD HH:MM:SS.SSS" (UTC) and errors and metadata as JSONB; the
	// CASE guards tolerate malformed values as River's own rescue query does.
	jobCounts: `
SELECT coalesce(sum(state <> 'running'), 0), coalesce(sum(state = 'running'), 0)
FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')`,
	jobsDue: `
SELECT count(*) FROM river_job
WHERE state IN ('available', 'retryable', 'scheduled') AND scheduled_at <= ?1`,
	jobCountsByKind: `SELECT kind, state, count(*) FROM river_job GROUP BY kind, state ORDER BY kind, state`,
	runActive: `
SELECT count(*) FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')
	AND NOT (typeof(metadata) = 'text' AND NOT json_valid(metadata))
	AND json_extract(metadata, ?1) = ?2`,
	runLast: `
SELECT id, state, created_at, coalesce(finalized_at, '') FROM river_job
WHERE kind = ?3
	AND NOT (typeof(metadata) = 'text' AND NOT json_valid(metadata))
	AND json_extract(metadata, ?1) = ?2
ORDER BY id DESC LIMIT 1`,
	// ?1 is the metadata counter's JSON path.
	runningJobs: `
SELECT id, kind, attempt,
	CASE WHEN typeof(metadata) = 'text' AND NOT json_valid(metadata) THEN 0
		ELSE coalesce(json_extract(metadata, ?1), 0) END,
	CASE WHEN typeof(metadata) = 'text' AND NOT json_valid(metadata) THEN 0
		ELSE json_type(metadata, '$.cancel_attempted_at') IS NOT NULL END
FROM river_job
WHERE state = 'running'
ORDER BY id`,
	// ?1 attempt error (JSON), ?2 finalized_at, ?3 id, ?4 state.
	finalizeRunningJob: `UPDATE river_job SET ` + appendErrorSQLite + `, state = ?4, finalized_at = ?2
WHERE id = ?3 AND state = 'running'`,
	// ?1 attempt error (JSON), ?2 scheduled_at, ?3 id, ?4 counter, ?5 its JSON path.
	// The job keeps its place in the queue (the earlier of its own scheduled_at and
	// now): a scan interrupted by a crash runs again before the apply queued after
	// it, not behind it on a catalogue it has not filled yet.
	requeueRunningJob: `UPDATE river_job SET ` + appendErrorSQLite + `,
	state = 'available', scheduled_at = min(scheduled_at, ?2),
	metadata = CASE WHEN typeof(metadata) = 'text' AND NOT json_valid(metadata) THEN metadata
		ELSE jsonb_set(metadata, ?5, ?4) END
WHERE id = ?3 AND state = 'running'`,
	// ?1 scheduled_at, ?2 LIKE pattern for the last error.
	requeueRetryable: `
UPDATE river_job SET state = 'available', scheduled_at = ?1
WHERE state = 'retryable'
	AND NOT (typeof(errors) = 'text' AND NOT json_valid(errors))
	AND json_extract(errors, '$[#-1].error') LIKE ?2
RETURNING id, kind, attempt`,
}

// appendErrorSQLite appends the JSON attempt error in parameter ?1 to River's
// errors column, tolerating odd values as River's own rescue query does.
const appendErrorSQLite = `errors = CASE
	WHEN typeof(errors) = 'text' AND NOT json_valid(errors) THEN jsonb(json_array(errors, json(?1)))
	WHEN coalesce(json_type(errors), 'array') <> 'array' THEN jsonb(json_array(json(errors), json(?1)))
	ELSE jsonb(json_insert(json(coalesce(errors, jsonb('[]'))), '$[#]', json(?1))) END`
