package catalog

// queries is one SQL dialect's statements: every statement the store runs. A
// backend is a value of this type (sqliteQueries in queries_sqlite.go); adding
// PostgreSQL means one more file with its own value, its own migrations and its
// own codes in Classify, not edits to the store's methods. Statements here use "?"
// placeholders; a dialect that numbers them ($1) writes its own, or rebinds these
// once when its value is built (sqlx's Rebind, soft-serve's tx.Rebind).
type queries struct {
	journalMode        string
	countSchemaObjects string
	gooseTableExists   string
	gooseVersion       string
	probe              string
	checkpoint         string

	knownFiles   string
	upsertFile   string
	deleteTracks string
	insertTrack  string
	setMissing   string
	selectFiles  string // followed by the filter's WHERE, ORDER BY id and LIMIT
	// upsertFile's last parameter is the file's packed tracks (packed.go),
	// written in the transaction that writes its tracks rows.
	//
	// selectFilesWithTracks is selectFiles with one more column: the file's
	// packed tracks, a JSON array of [idx, default, forced, channels, width,
	// height, type, codec, language, title] in idx order (packed.go).
	selectFilesWithTracks string
	// fileIDRange is the smallest and largest file id above ? (EachFile's
	// pages are ranges of ids).
	fileIDRange    string
	fileByID       string
	fileByPath     string
	tracksOfFile   string
	filterAfter    string
	filterUpTo     string
	filterPrefix   string
	filterContain  string
	filterCodec    string
	filterLanguage string
	filterMissing  string
	// filterCodecIn and filterLanguageIn are filterCodec and filterLanguage
	// driven from the tracks index, for a rare value; countCodec and
	// countLanguage count the tracks with the value (?1) after the file id ?2,
	// up to ?3.
	filterCodecIn    string
	filterLanguageIn string
	countCodec       string
	countLanguage    string
	// distinctContainers lists the distinct container names, one index seek
	// each; countContainersIn counts the files with one of the names (%s: their
	// placeholders) after the id ?, up to ?; filterContainerIn is the container
	// filter as those names; filterNothing matches no file.
	distinctContainers string
	countContainersIn  string
	filterContainerIn  string
	filterNothing      string
	orderByIDLimit     string
	// filterSearch is a path LIKE ? ESCAPE '\' (ASCII case-insensitive).
	filterSearch string
	// filterIDCmp is "id %s ?", the comparison filled in (a descending id
	// order's cursor).
	filterIDCmp string
	// filterAfterKey is the keyset cursor of a sort: the rows after (key, id)
	// of the file whose id is both ?, the column (%[1]s) and the comparison
	// (%[2]s) filled in.
	filterAfterKey string
	// orderByKeyLimit is ORDER BY the column (%[1]s) and id in the direction
	// (%[2]s: ASC or DESC), then LIMIT ?.
	orderByKeyLimit string

	saveProgress string
	addNote      string
	getProgress  string // "IN (?)" is expanded to the number of ids

	fileStats string // metrics: files by state

	// The library totals (LibraryTotals): files, missing, failed probes; then
	// (name, files) breakdowns by container, codec and language, ? the top.
	totalsFiles      string
	totalsContainers string
	totalsCodecs     string
	totalsLanguages  string

	// River's river_job table (JobQueue).
	insertPlan       string
	supersedeOpen    string
	openPlan         string
	selectPlans      string // followed by the filter's WHERE, ORDER BY id and LIMIT
	planByID         string
	setPlanState     string
	finishPlan       string
	noConverge       string
	planFilterState  string
	planFilterPolicy string
	planFilterFile   string
	renameFile       string
	dropOtherAtPath  string
	insertHistory    string
	historyOfFile    string
	claimFile        string
	releaseFile      string
	releaseJobClaims string
	listClaims       string
	staleClaims      string // PostgreSQL: ?1 this node's River client ID
	clearClaims      string

	upsertNode    string // name, version, pid, workers, started_at, heartbeat_at
	listNodes     string
	runningByNode string // id, kind, the River client that attempted it last

	jobCounts          string
	jobsDue            string
	runningJobs        string
	finalizeRunningJob string
	requeueRunningJob  string
	requeueRetryable   string
	jobCountsByKind    string // metrics: jobs by kind and River state
	runActive          string // ?1 a metadata JSON path, ?2 its value
	runLast            string // ?1 a metadata JSON path, ?2 its value, ?3 a kind
}
