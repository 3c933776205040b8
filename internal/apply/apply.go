// Package apply carries out one file's [policy.Plan] with the real tools
// (mkvpropedit, mkvmerge, ffmpeg), so that at every instant the file is
// either its old complete self or its new verified self.
//
// [Executor.Apply] checks that the file is still the one the plan was made
// from, writes the new version to a temp file in the same directory
// (.NAME.vpo-tmp-RANDOM), fsyncs it, verifies it by probing it against the
// plan's expected result, renames it over the original and fsyncs the
// directory. Every failure leaves the original untouched and no temp file
// behind. See docs/apply.md.
package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/scan"
	"github.com/vpo-project/vpo/internal/toolrun"
)

var (
	// ErrStale is wrapped when the file is no longer the one the plan was
	// made from (size, mtime, fingerprint or tracks differ): re-plan.
	ErrStale = errors.New("plan is stale")
	// ErrSettling is wrapped when the file changed less than
	// [Executor.Settle] ago (it may still be being copied).
	ErrSettling = errors.New("file is still changing")
	// ErrNoSpace is wrapped when the filesystem lacks room for the new
	// version plus the margin; nothing was written.
	ErrNoSpace = errors.New("not enough free space")
	// ErrVerify is wrapped when the new version does not match the plan's
	// expected result; it was removed and the original kept.
	ErrVerify = errors.New("verification failed")
	// ErrNotApplicable is wrapped when the plan cannot be applied: a phase
	// failed, the plan stopped, or it needs operations this vpo does not
	// run. The file is untouched.
	ErrNotApplicable = errors.New("plan cannot be applied")
	// ErrUnsupported is wrapped when apply cannot write the file's
	// container, or the plan asks for something the tools cannot do.
	ErrUnsupported = errors.New("not supported")
)

// Tool names, as [Result.Tool] and errors report them.
const (
	ToolMKVPropEdit = "mkvpropedit"
	ToolMKVMerge    = "mkvmerge"
	ToolFFmpeg      = "ffmpeg"
	toolFFprobe     = "ffprobe"
)

// DefaultSpaceMargin is the free space required beyond the expected output
// size when [Executor.SpaceMargin] is zero.
const DefaultSpaceMargin = 64 << 20

// Tools holds the binaries: paths, or names looked up in PATH. Empty means
// the tool's own name.
type Tools struct {
	MKVMerge    string
	MKVPropEdit string
	FFmpeg      string
	FFprobe     string
}

// Executor applies plans. Set the fields before the first Apply; it is safe
// for concurrent use on different files (two applies must never work on
// the same file at once: the caller serialises them).
type Executor struct {
	// Tools are the binaries.
	Tools Tools
	// Settle is how long a file must have been unchanged (by mtime) before
	// it is rewritten; zero disables the check.
	Settle time.Duration
	// SpaceMargin is the free space required beyond the expected output
	// size; zero means DefaultSpaceMargin, negative none.
	SpaceMargin int64
	// Timeout bounds each rewriting tool run; zero means no limit but the
	// context.
	Timeout time.Duration
	// ProbeTimeout bounds each ffprobe and mkvmerge -J run; zero means
	// probe.DefaultTimeout.
	ProbeTimeout time.Duration
	// InPlace is InPlaceNever (or "") or InPlaceAuto: whether mkvpropedit
	// may edit files in place under a journal in JournalDir.
	InPlace string
	// JournalDir is where in-place edits keep their journals (a directory
	// in the data dir, on any filesystem); required with InPlaceAuto.
	// [ReplayJournals] must run on it at startup.
	JournalDir string
	// Backup is BackupNone (or "") or BackupKeep: whether a rewrite keeps
	// the version it replaces as NAME.vpo-backup (a hard link made just
	// before the new version is renamed into place). A file has at most one
	// backup: an existing one is never replaced, so it stays the oldest
	// version vpo replaced. With BackupKeep mkvpropedit never edits in
	// place (the backup would share the edited inode).
	Backup string
	// Logger receives the steps at debug level; nil means slog.Default().
	Logger *slog.Logger
}

// Request is one file's plan and the state of the file it was made from.
type Request struct {
	// Plan is the plan; Plan.File.Path is the file.
	Plan *policy.Plan
	// Size and ModTime are the file's size and mtime when planned. A zero
	// ModTime skips the mtime check.
	Size    int64
	ModTime time.Time
	// Fingerprint is the file's scan.Fingerprint when planned; "" skips
	// the check (the tracks are still compared).
	Fingerprint string
	// Source, when not nil, is the catalogue's ffprobe report of the file
	// version the plan was made from (same size, mtime and fingerprint).
	// A metadata-only in-place edit whose header apply verified in-process
	// then derives the new version's report from it (the streams are not
	// touched) instead of running ffprobe; it is ignored unless its tracks
	// are the plan's.
	Source *probe.Result
}

// Result says what Apply did.
type Result struct {
	// Path is the file's path afterwards: Plan.File.Path, or the new name
	// after a container conversion (sample.mp4 -> sample.mkv).
	Path string
	// Changed is false when the plan changed nothing (the file was not
	// touched).
	Changed bool
	// Tool is the tool that wrote the new version.
	Tool string
	// InPlace is true when mkvpropedit edited the file itself (under a
	// journal) rather than a copy.
	InPlace bool
	// Tracks are the new version's tracks as probed, IDs renumbered by the
	// new file's stream order.
	Tracks []policy.Track
	// Container is the new version's ffprobe format name.
	Container string
	// Size is the new version's size in bytes.
	Size int64
	// Probe is ffprobe's report on the new version, from the verification
	// (the same ffprobe run the catalogue makes, on the same bytes), so that
	// the caller need not probe it again; nil when nothing was written.
	Probe *probe.Result
	// Notes are things worth recording (what the container cannot store).
	Notes []string
	// Backup is the path of the backup that holds the old version
	// (Executor.Backup keep), "" when none was kept. BackupMade tells
	// whether it was made by this apply (false: an older backup was there
	// and was left as it was).
	Backup     string
	BackupMade bool
}

func (e *Executor) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func (e *Executor) tool(name string) toolrun.Tool {
	t := toolrun.Tool{Name: name}
	switch name {
	case ToolMKVMerge:
		t.Path, t.Hint = e.Tools.MKVMerge, "install mkvtoolnix or set tools.mkvmerge"
	case ToolMKVPropEdit:
		t.Path, t.Hint = e.Tools.MKVPropEdit, "install mkvtoolnix or set tools.mkvpropedit"
	case ToolFFmpeg:
		t.Path, t.Hint = e.Tools.FFmpeg, "install ffmpeg or set tools.ffmpeg"
	case toolFFprobe:
		t.Path, t.Hint = e.Tools.FFprobe, "install ffmpeg or set tools.ffprobe"
	}
	return t
}

// applicable returns an error wrapping ErrNotApplicable when the plan must
// not be carried out.
func applicable(p *policy.Plan) error {
	if p.Stopped || p.HasErrors() {
		var msgs []string
		for _, ph := range p.Phases {
			for _, m := range ph.Errors {
				msgs = append(msgs, "phase "+ph.Name+": "+m)
			}
		}
		return fmt.Errorf("%w: %s", ErrNotApplicable, strings.Join(msgs, "; "))
	}
	if p.HasUnsupported() {
		var msgs []string
		for _, ph := range p.Phases {
			msgs = append(msgs, ph.Unsupported...)
		}
		return fmt.Errorf("%w: needs %s", ErrNotApplicable, strings.Join(msgs, "; "))
	}
	return nil
}

// job is one Apply in progress.
type job struct {
	e      *Executor
	req    Request
	path   string // the file
	st     os.FileInfo
	src    *details
	target policy.FileInfo
	// srcKind and dstKind are container kinds (policy.ContainerKind).
	srcKind, dstKind string
	final            string // the path after the apply
	// unprobed is true when src comes from the plan (the file's size, mtime
	// and fingerprint matched it) rather than from ffprobe.
	unprobed bool
	// head is the Matroska header read in-process (nil when it could not
	// be); headMapped is true when the tracks were mapped from it rather
	// than by mkvmerge -J.
	head       *mkvHead
	headMapped bool
}

// metadataOnlyMKV reports whether the plan only changes flags, languages
// or titles of a Matroska file's tracks: the same tracks stay, in the same
// order, in the same container kind.
func (j *job) metadataOnlyMKV() bool {
	p := j.req.Plan
	if policy.ContainerKind(p.File.Container) != "mkv" || policy.ContainerKind(j.target.Container) != "mkv" {
		return false
	}
	src, dst := p.File.Tracks, j.target.Tracks
	if len(src) != len(dst) {
		return false
	}
	for i := range src {
		if src[i].ID != dst[i].ID || src[i].Type != dst[i].Type || src[i].Codec != dst[i].Codec {
			return false
		}
	}
	return true
}

// planDetails is the source as the plan describes it (the catalogue's
// ffprobe report of the same file version).
func planDetails(p *policy.Plan) *details {
	r := &probe.Result{Container: p.File.Container, Duration: p.File.Duration, Tracks: make([]probe.Track, len(p.File.Tracks))}
	for i, t := range p.File.Tracks {
		r.Tracks[i] = probe.Track{Index: t.ID, Type: t.Type, Codec: t.Codec, Language: t.Language, Title: t.Title,
			Default: t.Default, Forced: t.Forced, Channels: t.Channels, Width: t.Width, Height: t.Height}
	}
	return &details{result: r, dispositions: map[int][]string{}, durations: map[int]float64{}, fileNames: map[int]string{}}
}

// Apply carries out req's plan on its file; see the package comment. It
// returns a Result with Changed false, touching nothing, when the plan
// changes nothing. Errors name the file and wrap ErrStale, ErrSettling,
// ErrNoSpace, ErrVerify, ErrNotApplicable, ErrUnsupported, ErrIdentity,
// toolrun.ErrNotFound (a missing tool), toolrun.ErrFailed, or ctx.Err();
// whatever the error, the original is untouched and no temp file is left.
func (e *Executor) Apply(ctx context.Context, req Request) (Result, error) {
	if req.Plan == nil {
		return Result{}, errors.New("apply: no plan")
	}
	path := req.Plan.File.Path
	res, err := e.apply(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("apply %s: %w", path, err)
	}
	return res, nil
}

func (e *Executor) apply(ctx context.Context, req Request) (Result, error) {
	p := req.Plan
	switch e.InPlace {
	case "", InPlaceNever:
	case InPlaceAuto:
		if e.JournalDir == "" {
			return Result{}, errors.New("in-place mode auto needs a journal directory")
		}
	default:
		return Result{}, fmt.Errorf("in-place mode %q: want %s or %s", e.InPlace, InPlaceAuto, InPlaceNever)
	}
	switch e.Backup {
	case "", BackupNone, BackupKeep:
	default:
		return Result{}, fmt.Errorf("backup mode %q: want %s or %s", e.Backup, BackupNone, BackupKeep)
	}
	if err := applicable(p); err != nil {
		return Result{}, err
	}
	j := &job{e: e, req: req, path: p.File.Path}
	if !p.Changed() {
		return Result{Path: j.path}, nil
	}
	if !filepath.IsAbs(j.path) {
		abs, err := filepath.Abs(j.path)
		if err != nil {
			return Result{}, err
		}
		j.path = abs
	}
	j.target = p.Result()
	if err := j.precheck(ctx); err != nil {
		return Result{}, err
	}
	j.srcKind = policy.ContainerKind(j.src.result.Container)
	j.dstKind = policy.ContainerKind(j.target.Container)
	if j.dstKind == j.srcKind && slices.Equal(j.target.Tracks, p.File.Tracks) {
		// The phases undo each other: nothing to write.
		return Result{Path: j.path}, nil
	}
	if j.dstKind == "mkv" && j.srcKind == "mkv" && slices.Equal(withoutAttachments(j.target.Tracks), withoutAttachments(p.File.Tracks)) &&
		slices.Equal(onlyAttachments(j.target.Tracks), onlyAttachments(p.File.Tracks)) {
		// Only attachments move: Matroska keeps them apart from the
		// tracks, after them, so there is nothing a tool could change.
		return Result{Path: j.path, Notes: []string{"Matroska stores attachments after the tracks; their position cannot change"}}, nil
	}
	j.final = j.path
	if j.dstKind != j.srcKind {
		j.final = strings.TrimSuffix(j.path, filepath.Ext(j.path)) + "." + j.dstKind
		if _, err := os.Lstat(j.final); err == nil {
			return Result{}, fmt.Errorf("%w: converting to %s would replace %s, which exists", ErrUnsupported, j.dstKind, j.final)
		}
	}
	return j.run(ctx)
}

// precheck checks that the file is the planned one, settled, and that its
// tracks are those the plan was made from.
func (j *job) precheck(ctx context.Context) error {
	st, err := os.Stat(j.path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrUnsupported)
	}
	j.st = st
	if st.Size() != j.req.Size {
		return fmt.Errorf("%w: size is %d bytes, planned at %d", ErrStale, st.Size(), j.req.Size)
	}
	if !j.req.ModTime.IsZero() && !st.ModTime().Equal(j.req.ModTime) {
		return fmt.Errorf("%w: modified at %s, planned at %s", ErrStale, st.ModTime().UTC().Format(time.RFC3339Nano), j.req.ModTime.UTC().Format(time.RFC3339Nano))
	}
	if s := j.e.Settle; s > 0 {
		// A file being copied has a recent mtime; one far in the future
		// (clock skew) counts as settled.
		if age := time.Since(st.ModTime()); age < s && age > -s {
			return fmt.Errorf("%w: modified %s ago, settle is %s", ErrSettling, age.Round(time.Second), s)
		}
	}
	if j.req.Fingerprint != "" {
		fp, err := scan.Fingerprint(j.path, st.Size())
		if err != nil {
			return err
		}
		if fp != j.req.Fingerprint {
			return fmt.Errorf("%w: content fingerprint changed", ErrStale)
		}
	}
	if j.metadataOnlyMKV() && j.req.Fingerprint != "" && !j.req.ModTime.IsZero() {
		// Size, mtime and content fingerprint are those the plan was made
		// from, so its tracks are the file's: no ffprobe run. identify still
		// checks every track's codec, language, title and flags against the
		// container's header, and probes after all when they disagree.
		j.src = planDetails(j.req.Plan)
		j.unprobed = true
		return nil
	}
	return j.probeSource(ctx)
}

// probeSource runs ffprobe on the file and checks that its tracks are those
// the plan was made from.
func (j *job) probeSource(ctx context.Context) error {
	src, err := j.e.probeDetails(ctx, j.path)
	if err != nil {
		return err
	}
	j.src = src
	j.unprobed = false
	now := make([]policy.Track, len(src.result.Tracks))
	for i, t := range src.result.Tracks {
		now[i] = policy.TrackFromProbe(t)
	}
	if !slices.Equal(now, j.req.Plan.File.Tracks) {
		return fmt.Errorf("%w: the file's tracks are no longer those the plan was made from", ErrStale)
	}
	return nil
}

// run picks the tool and writes, verifies and installs the new version.
func (j *job) run(ctx context.Context) (Result, error) {
	kept := j.target.Tracks
	removed := len(kept) != len(j.req.Plan.File.Tracks)
	reordered := !slices.Equal(orderOf(kept, false), keptInSourceOrder(j.req.Plan.File.Tracks, kept))

	tool := ToolFFmpeg
	if j.srcKind == "mkv" && j.dstKind == "mkv" {
		tool = ToolMKVPropEdit
		if removed || reordered {
			tool = ToolMKVMerge
		}
	}
	var refs map[int]mkvRef
	if tool != ToolFFmpeg {
		var err error
		if refs, err = j.identify(ctx, tool); err != nil {
			return Result{}, err
		}
	} else if _, err := ffmpegFormat(j.final, j.dstKind); err != nil {
		return Result{}, err
	}
	// Resolve the tool before anything is written, so that a missing tool
	// fails cleanly.
	if _, err := j.e.tool(tool).Resolve(); err != nil {
		return Result{}, err
	}
	if tool == ToolMKVPropEdit && j.e.InPlace == InPlaceAuto && j.inPlaceAllowed() {
		if res, handled, err := j.runInPlace(ctx, refs); handled {
			return res, err
		}
	}
	if err := j.checkSpace(); err != nil {
		return Result{}, err
	}

	tmp, err := createTemp(j.final)
	if err != nil {
		return Result{}, err
	}
	keep := false
	defer func() {
		if !keep {
			if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
				j.e.log().Warn("cannot remove temp file", "path", tmp, "error", err.Error())
			}
		}
	}()
	log := j.e.log().With("path", j.path, "tool", tool, "temp", tmp)
	log.Debug("apply: writing new version")
	switch tool {
	case ToolMKVPropEdit:
		err = j.runMKVPropEdit(ctx, tmp, refs)
	case ToolMKVMerge:
		err = j.runMKVMerge(ctx, tmp, refs)
	default:
		err = j.runFFmpeg(ctx, tmp)
	}
	if err != nil {
		return Result{}, err
	}
	if err := finishTemp(tmp, j.st); err != nil {
		return Result{}, err
	}
	got, notes, err := j.verifyTemp(ctx, tmp, tool, refs)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	backup, made, err := j.backup()
	if err != nil {
		return Result{}, err
	}
	if err := install(tmp, j.path, j.final); err != nil {
		if made {
			// The original is still in place: the new link is only an
			// extra name of it.
			_ = os.Remove(backup)
		}
		return Result{}, err
	}
	keep = true
	log.Debug("apply: new version installed", "final", j.final, "backup", backup)
	res := Result{Path: j.final, Changed: true, Tool: tool, Container: got.result.Container, Notes: notes,
		Backup: backup, BackupMade: made, Probe: got.result}
	for _, t := range got.result.Tracks {
		res.Tracks = append(res.Tracks, policy.TrackFromProbe(t))
	}
	if st, err := os.Stat(j.final); err == nil {
		res.Size = st.Size()
	}
	return res, nil
}

// verifyTemp verifies the new version in tmp and returns its ffprobe
// report: for mkvpropedit on a copy whose header was read in-process, by
// reading the edited copy's header (as for an in-place edit; the copy has
// the original's layout) and deriving the report, else with ffprobe.
func (j *job) verifyTemp(ctx context.Context, tmp, tool string, refs map[int]mkvRef) (*details, []string, error) {
	if tool == ToolMKVPropEdit && j.headMapped {
		nh, exact, err := verifyHead(tmp, j.head, j.wantByUID(refs))
		if err != nil {
			return nil, nil, err
		}
		if r := j.derivedProbe(nh, refs); exact && r != nil {
			return &details{result: r}, nil, nil
		}
	}
	got, err := j.e.probeDetails(ctx, tmp)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: probe the new version: %w", ErrVerify, err)
	}
	notes, err := j.verify(got)
	if err != nil {
		return nil, nil, err
	}
	return got, notes, nil
}

// identify maps the source's streams to mkvmerge's IDs and UIDs: for
// mkvpropedit from the header read in-process when it can be, else (and
// for mkvmerge, which needs its own track IDs) from `mkvmerge -J`.
func (j *job) identify(ctx context.Context, tool string) (map[int]mkvRef, error) {
	if tool == ToolMKVPropEdit {
		head, err := readHead(j.path, j.st.Size())
		var refs map[int]mkvRef
		if err == nil {
			j.head = head
			refs, err = j.identifyHead(ctx, head)
		}
		if err == nil {
			j.headMapped = true
			return refs, nil
		}
		if !errors.Is(err, errHead) && !errors.Is(err, errNoCluster) && !errors.Is(err, ErrIdentity) {
			return nil, err
		}
		j.e.log().Debug("apply: tracks not mapped from the header; asking mkvmerge", "path", j.path, "reason", err.Error())
	}
	return j.identifyTool(ctx)
}

// identifyHead maps the tracks from the header read in-process.
func (j *job) identifyHead(ctx context.Context, head *mkvHead) (map[int]mkvRef, error) {
	info, err := head.info()
	if err != nil {
		return nil, err
	}
	if !head.hasAttach && slices.ContainsFunc(j.req.Plan.File.Tracks, func(t policy.Track) bool { return t.Type == policy.TypeAttachment }) {
		return nil, fmt.Errorf("%w: the attachments are not in the header", errHead)
	}
	return j.mapTracks(ctx, info)
}

// identifyTool maps the tracks from `mkvmerge -J`.
func (j *job) identifyTool(ctx context.Context) (map[int]mkvRef, error) {
	out, err := j.e.tool(ToolMKVMerge).Run(ctx, toolrun.Cmd{
		Args:    []string{"--identification-format", "json", "--identify", j.path},
		Timeout: j.e.probeTimeout(),
		// Exit 2 (error) still prints the JSON, whose "errors" say why.
		OKExit: []int{1, 2},
	})
	if err != nil {
		return nil, err
	}
	info, err := parseMKVInfo(out.Stdout)
	if err != nil {
		return nil, err
	}
	return j.mapTracks(ctx, info)
}

// mapTracks maps the plan's tracks to info's.
func (j *job) mapTracks(ctx context.Context, info *mkvInfo) (map[int]mkvRef, error) {
	refs, err := mapMKV(j.req.Plan.File.Tracks, j.src.fileNames, info)
	if errors.Is(err, ErrIdentity) && j.unprobed {
		// The header disagrees with the plan although the file's size,
		// mtime and fingerprint match it: probe, so that a changed file is
		// refused as stale, and map again with ffprobe's own view.
		if perr := j.probeSource(ctx); perr != nil {
			return nil, perr
		}
		return mapMKV(j.req.Plan.File.Tracks, j.src.fileNames, info)
	}
	return refs, err
}

// checkSpace fails with ErrNoSpace when the directory's filesystem cannot
// hold a copy of the file plus the margin. Every path writes a full new
// file (mkvpropedit edits a copy), and a remux is at most about as large
// as its source.
func (j *job) checkSpace() error {
	var fs syscall.Statfs_t
	dir := filepath.Dir(j.path)
	if err := syscall.Statfs(dir, &fs); err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	margin := j.e.SpaceMargin
	if margin == 0 {
		margin = DefaultSpaceMargin
	}
	need := j.st.Size() + max(margin, 0)
	if free < need {
		return fmt.Errorf("%w in %s: %d bytes free, %d needed (file %d + margin %d)", ErrNoSpace, dir, free, need, j.st.Size(), max(margin, 0))
	}
	return nil
}

// orderOf returns the IDs of tracks, without attachments unless withAttach.
func orderOf(tracks []policy.Track, withAttach bool) []int {
	ids := make([]int, 0, len(tracks))
	for _, t := range tracks {
		if withAttach || t.Type != policy.TypeAttachment {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

// keptInSourceOrder returns the IDs of the non-attachment tracks of src
// that kept holds, in source order.
func keptInSourceOrder(src, kept []policy.Track) []int {
	ids := make([]int, 0, len(kept))
	for _, t := range src {
		if t.Type == policy.TypeAttachment {
			continue
		}
		if slices.ContainsFunc(kept, func(k policy.Track) bool { return k.ID == t.ID }) {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

func withoutAttachments(ts []policy.Track) []policy.Track {
	return slices.DeleteFunc(slices.Clone(ts), func(t policy.Track) bool { return t.Type == policy.TypeAttachment })
}

func onlyAttachments(ts []policy.Track) []policy.Track {
	return slices.DeleteFunc(slices.Clone(ts), func(t policy.Track) bool { return t.Type != policy.TypeAttachment })
}
