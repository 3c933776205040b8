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
	// selectFilesWithTracks is selectFiles with one more column: the file's
	// tracks packed as a JSON array of [idx, default, forced, channels, width,
	// height, type, codec, language, title] in idx order (see EachFile).
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
	orderByIDLimit string

	saveProgress string
	addNote      string
	getProgress  string // "IN (?)" is expanded to the number of ids

	fileStats string // metrics: files by state

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
	clearClaims      string

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
