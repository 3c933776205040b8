package catalog

// postgresQueries is the PostgreSQL dialect (pgx through database/sql). Its
// statements are written with "?" placeholders like SQLite's, so that the store's
// composed queries (filters, IN lists) are the same; the driver wrapper in
// postgres.go numbers them ($1, $2, ...) before PostgreSQL sees them. The
// statements on River's tables number their own ($1), as River's PostgreSQL
// schema differs from its SQLite one (timestamptz, jsonb, errors as jsonb[]).
// Neither form may use PostgreSQL's "?" JSON operators.
var postgresQueries = queries{
	countSchemaObjects: `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()`,
	gooseTableExists: `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'goose_db_version'`,
	gooseVersion:     `SELECT max(version_id) FROM goose_db_version WHERE is_applied`,
	probe:            `SELECT count(*) FROM goose_db_version`,

	knownFiles: `SELECT id, path, size, mtime_ns, missing, probed_at IS NOT NULL FROM files WHERE path >= ? AND path < ?`,
	upsertFile: `
INSERT INTO files (path, size, mtime_ns, fingerprint, container, duration, bit_rate, probe_error,
                   probed_at, missing, first_seen, last_seen, updated_at, tracks_packed)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, false, ?, ?, ?, ?)
ON CONFLICT (path) DO UPDATE SET
    size = excluded.size, mtime_ns = excluded.mtime_ns, fingerprint = excluded.fingerprint,
    container = excluded.container, duration = excluded.duration, bit_rate = excluded.bit_rate,
    probe_error = excluded.probe_error, probed_at = excluded.probed_at, missing = false,
    last_seen = excluded.last_seen, updated_at = excluded.updated_at, tracks_packed = excluded.tracks_packed
RETURNING id`,
	deleteTracks: sqliteQueries.deleteTracks,
	insertTrack:  sqliteQueries.insertTrack,
	setMissing:   sqliteQueries.setMissing,
	selectFiles:  sqliteQueries.selectFiles,
	// The packed tracks are stored with the file (migration 00005).
	selectFilesWithTracks: sqliteQueries.selectFilesWithTracks,
	fileIDRange:           sqliteQueries.fileIDRange,
	fileByID:              sqliteQueries.fileByID,
	fileByPath:            sqliteQueries.fileByPath,
	tracksOfFile:          sqliteQueries.tracksOfFile,
	filterAfter:           sqliteQueries.filterAfter,
	filterUpTo:            sqliteQueries.filterUpTo,
	filterPrefix:          sqliteQueries.filterPrefix,
	filterContain:         `strpos(',' || container || ',', ',' || ? || ',') > 0`,
	filterCodec:           sqliteQueries.filterCodec,
	filterLanguage:        sqliteQueries.filterLanguage,
	filterMissing:         sqliteQueries.filterMissing,

	filterCodecIn:      sqliteQueries.filterCodecIn,
	filterLanguageIn:   sqliteQueries.filterLanguageIn,
	countCodec:         sqliteQueries.countCodec,
	countLanguage:      sqliteQueries.countLanguage,
	distinctContainers: sqliteQueries.distinctContainers,
	countContainersIn:  sqliteQueries.countContainersIn,
	filterContainerIn:  sqliteQueries.filterContainerIn,
	filterNothing:      `false`,
	orderByIDLimit:     sqliteQueries.orderByIDLimit,
	// SQLite's LIKE on the path's bytes, ignoring the case of ASCII letters:
	// both sides read as Latin-1 (one character per byte, so any bytes convert
	// and the pattern's UTF-8 bytes line up with the path's), then ASCII
	// letters lowered by translate (lower() would fold non-ASCII letters too).
	filterSearch: `translate(convert_from(path, 'LATIN1'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
  LIKE translate(convert_from(convert_to(?, 'UTF8'), 'LATIN1'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') ESCAPE '\'`,
	filterIDCmp:     sqliteQueries.filterIDCmp,
	filterAfterKey:  sqliteQueries.filterAfterKey,
	orderByKeyLimit: sqliteQueries.orderByKeyLimit,

	saveProgress: sqliteQueries.saveProgress,
	addNote: `
INSERT INTO job_progress (job_id, notes, updated_at) VALUES (?, jsonb_build_array(?::jsonb)::text, ?)
ON CONFLICT (job_id) DO UPDATE SET notes = (job_progress.notes::jsonb || jsonb_build_array(?::jsonb))::text,
    updated_at = excluded.updated_at`,
	getProgress: sqliteQueries.getProgress,

	fileStats:        `SELECT count(*), count(*) FILTER (WHERE missing), count(*) FILTER (WHERE NOT missing AND probe_error <> '') FROM files`,
	totalsFiles:      `SELECT count(*), count(*) FILTER (WHERE missing), count(*) FILTER (WHERE probe_error <> '') FROM files`,
	totalsContainers: sqliteQueries.totalsContainers,
	totalsCodecs:     sqliteQueries.totalsCodecs,
	totalsLanguages:  sqliteQueries.totalsLanguages,

	insertPlan:       sqliteQueries.insertPlan,
	supersedeOpen:    sqliteQueries.supersedeOpen,
	openPlan:         sqliteQueries.openPlan,
	selectPlans:      sqliteQueries.selectPlans,
	planByID:         sqliteQueries.planByID,
	setPlanState:     sqliteQueries.setPlanState,
	finishPlan:       sqliteQueries.finishPlan,
	noConverge:       `SELECT count(*) FROM plans WHERE file_id = ? AND policy_hash = ? AND result_fingerprint = ? AND NOT converges`,
	planFilterState:  sqliteQueries.planFilterState,
	planFilterPolicy: sqliteQueries.planFilterPolicy,
	planFilterFile:   sqliteQueries.planFilterFile,
	renameFile:       sqliteQueries.renameFile,
	dropOtherAtPath:  sqliteQueries.dropOtherAtPath,
	insertHistory:    sqliteQueries.insertHistory,
	historyOfFile:    sqliteQueries.historyOfFile,
	claimFile:        sqliteQueries.claimFile,
	releaseFile:      sqliteQueries.releaseFile,
	releaseJobClaims: sqliteQueries.releaseJobClaims,
	listClaims:       sqliteQueries.listClaims,
	// The claims of jobs not running on another node (last attempted by
	// another River client): those of this node's interrupted jobs, and of
	// jobs that ended without releasing them.
	staleClaims: `SELECT c.file_id, c.path, c.job_id, c.claimed_at FROM file_claims c
WHERE NOT EXISTS (SELECT 1 FROM river_job j WHERE j.id = c.job_id AND j.state = 'running'
	AND j.attempted_by[array_upper(j.attempted_by, 1)] IS DISTINCT FROM ?)
ORDER BY c.file_id`,
	clearClaims: sqliteQueries.clearClaims,

	upsertNode: sqliteQueries.upsertNode,
	listNodes:  sqliteQueries.listNodes,
	runningByNode: `SELECT id, kind, coalesce(attempted_by[array_upper(attempted_by, 1)], '') FROM river_job
WHERE state = 'running' ORDER BY id`,

	// River's river_job on PostgreSQL: timestamps are timestamptz (vpo passes
	// and reads its UTC text format, converted here), metadata is jsonb and
	// errors is jsonb[]. A metadata key arrives as the JSON path vpo's SQLite
	// statements take ($."key"), which is a PostgreSQL jsonpath too.
	jobCounts: `
SELECT count(*) FILTER (WHERE state <> 'running'), count(*) FILTER (WHERE state = 'running')
FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')`,
	jobsDue: `
SELECT count(*) FROM river_job
WHERE state IN ('available', 'retryable', 'scheduled') AND scheduled_at <= ($1::timestamp AT TIME ZONE 'UTC')`,
	jobCountsByKind: `SELECT kind, state::text, count(*) FROM river_job GROUP BY kind, state ORDER BY kind, state::text`,
	runActive: `
SELECT count(*) FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')
	AND jsonb_path_query_first(metadata, $1::text::jsonpath) = to_jsonb($2::text)`,
	runLast: `
SELECT id, state::text, ` + pgRiverTime("created_at") + `, coalesce(` + pgRiverTime("finalized_at") + `, '') FROM river_job
WHERE kind = $3
	AND jsonb_path_query_first(metadata, $1::text::jsonpath) = to_jsonb($2::text)
ORDER BY id DESC LIMIT 1`,
	runningJobs: `
SELECT id, kind, attempt,
	CASE WHEN jsonb_typeof(jsonb_path_query_first(metadata, $1::text::jsonpath)) = 'number'
		THEN (jsonb_path_query_first(metadata, $1::text::jsonpath))::text::numeric::int ELSE 0 END,
	metadata -> 'cancel_attempted_at' IS NOT NULL
FROM river_job
WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $2
ORDER BY id`,
	finalizeRunningJob: `UPDATE river_job SET errors = array_append(errors, $1::jsonb), state = $4::river_job_state,
	finalized_at = ($2::timestamp AT TIME ZONE 'UTC')
WHERE id = $3 AND state = 'running'`,
	// $5 is the counter's JSON path $."key": the key is the text between its quotes.
	requeueRunningJob: `UPDATE river_job SET errors = array_append(errors, $1::jsonb), state = 'available',
	scheduled_at = least(scheduled_at, $2::timestamp AT TIME ZONE 'UTC'),
	metadata = metadata || jsonb_build_object(trim(both '"' from substr($5::text, 3)), $4::int)
WHERE id = $3 AND state = 'running'`,
	requeueRetryable: `
UPDATE river_job SET state = 'available', scheduled_at = ($1::timestamp AT TIME ZONE 'UTC')
WHERE state = 'retryable'
	AND errors[array_upper(errors, 1)] ->> 'error' LIKE $2
RETURNING id, kind, attempt`,
}

// pgRiverTime formats a timestamptz column as vpo's text timestamps (UTC,
// milliseconds).
func pgRiverTime(col string) string {
	return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')`
}
