package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/toolrun"
)

// In-place mkvpropedit edits, made crash-safe by a journal.
//
// mkvpropedit rewrites a Matroska file's header in place: it changes
// elements before the first Cluster (Tracks, SeekHead, Void, the Segment
// size) and, when the new header does not fit, writes the moved element past
// the old end of the file. It never writes between the first Cluster and
// the old end (apply's tests prove this on every kind of edit). So the bytes
// before the first Cluster and the old length are all it takes to undo an
// edit: before editing, apply writes them to a journal in the data
// directory and fsyncs it; after a failed or interrupted edit it writes them
// back and truncates the file; at the next start [ReplayJournals] does the
// same for an edit a crash interrupted.

// In-place modes for [Executor.InPlace].
const (
	// InPlaceNever: mkvpropedit always edits a copy (temp file, verify,
	// rename). The zero value.
	InPlaceNever = "never"
	// InPlaceAuto: mkvpropedit edits the file itself under a journal when
	// the header can be journaled (a known Cluster offset below
	// maxJournalPrefix), else a copy.
	InPlaceAuto = "auto"
)

const (
	journalMagic  = "VPOJOURNAL1\n"
	journalSuffix = ".vpo-journal"
	// maxJournalPrefix bounds the header kept in a journal; files with a
	// larger header (many attachments before the first Cluster) are edited
	// on a copy.
	maxJournalPrefix = 64 << 20
)

// EBML IDs.
const (
	ebmlHeaderID = 0x1A45DFA3
	segmentID    = 0x18538067
	clusterID    = 0x1F43B675
)

// errNoCluster is returned by firstCluster when the offset is not known.
var errNoCluster = errors.New("first cluster not found")

// firstCluster returns the offset of the first Cluster element of the
// Matroska file f of the given size, walking the EBML header and the
// Segment's children.
func firstCluster(f io.ReaderAt, size int64) (int64, error) {
	pos := int64(0)
	id, n, sz, err := elementHeader(f, pos)
	if err != nil || id != ebmlHeaderID || sz < 0 {
		return 0, fmt.Errorf("%w: no EBML header", errNoCluster)
	}
	pos += n + sz
	id, n, _, err = elementHeader(f, pos)
	if err != nil || id != segmentID {
		return 0, fmt.Errorf("%w: no Segment", errNoCluster)
	}
	pos += n
	for pos < size && pos <= maxJournalPrefix {
		id, n, sz, err := elementHeader(f, pos)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errNoCluster, err)
		}
		if id == clusterID {
			return pos, nil
		}
		if sz < 0 {
			return 0, fmt.Errorf("%w: element 0x%X of unknown size", errNoCluster, id)
		}
		pos += n + sz
	}
	return 0, fmt.Errorf("%w in the first %d bytes", errNoCluster, min(size, maxJournalPrefix))
}

// elementHeader reads the EBML element header at pos: its ID (with the
// length marker), the header's length, and the data size (-1 for unknown).
func elementHeader(f io.ReaderAt, pos int64) (id uint64, n int64, size int64, err error) {
	var b [12]byte
	m, err := f.ReadAt(b[:], pos)
	if m < 2 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, 0, err
	}
	buf := b[:m]
	idLen := vintLen(buf[0])
	if idLen == 0 || idLen > 4 || idLen >= len(buf) {
		return 0, 0, 0, errors.New("bad element ID")
	}
	for _, c := range buf[:idLen] {
		id = id<<8 | uint64(c)
	}
	rest := buf[idLen:]
	szLen := vintLen(rest[0])
	if szLen == 0 || szLen > len(rest) {
		return 0, 0, 0, errors.New("bad element size")
	}
	v := uint64(rest[0] & (0xFF >> szLen))
	allOnes := v == uint64(0xFF>>szLen)
	for _, c := range rest[1:szLen] {
		v = v<<8 | uint64(c)
		allOnes = allOnes && c == 0xFF
	}
	n = int64(idLen + szLen)
	if allOnes {
		return id, n, -1, nil
	}
	if v > 1<<62 {
		return 0, 0, 0, errors.New("element size too large")
	}
	return id, n, int64(v), nil
}

// vintLen returns the length of the EBML variable-size integer starting
// with b (1 to 8), or 0 if b is 0.
func vintLen(b byte) int {
	for i := 0; i < 8; i++ {
		if b&(0x80>>i) != 0 {
			return i + 1
		}
	}
	return 0
}

// journal is what undoes an in-place edit.
type journal struct {
	path   string
	size   int64
	mtime  time.Time
	prefix []byte
}

func journalName(dir, path string) string {
	h := sha256.Sum256([]byte(path))
	return filepath.Join(dir, hex.EncodeToString(h[:12])+journalSuffix)
}

func (j *journal) encode() []byte {
	var b bytes.Buffer
	b.WriteString(journalMagic)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(j.path)))
	b.WriteString(j.path)
	_ = binary.Write(&b, binary.BigEndian, j.size)
	_ = binary.Write(&b, binary.BigEndian, j.mtime.UnixNano())
	_ = binary.Write(&b, binary.BigEndian, uint32(len(j.prefix)))
	b.Write(j.prefix)
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// errTornJournal means the journal was not completely written: the edit it
// guards never started.
var errTornJournal = errors.New("incomplete journal")

func decodeJournal(data []byte) (*journal, error) {
	if len(data) < len(journalMagic)+32 || !bytes.HasPrefix(data, []byte(journalMagic)) {
		return nil, errTornJournal
	}
	body, sum := data[:len(data)-32], data[len(data)-32:]
	if want := sha256.Sum256(body); !bytes.Equal(want[:], sum) {
		return nil, errTornJournal
	}
	r := bytes.NewReader(body[len(journalMagic):])
	var j journal
	var n uint32
	var mtime int64
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, errTornJournal
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, errTornJournal
	}
	j.path = string(p)
	if binary.Read(r, binary.BigEndian, &j.size) != nil || binary.Read(r, binary.BigEndian, &mtime) != nil ||
		binary.Read(r, binary.BigEndian, &n) != nil {
		return nil, errTornJournal
	}
	j.mtime = time.Unix(0, mtime)
	j.prefix = make([]byte, n)
	if _, err := io.ReadFull(r, j.prefix); err != nil {
		return nil, errTornJournal
	}
	return &j, nil
}

// writeJournal makes the journal durable: written to a temp name, fsynced,
// renamed, and the directory fsynced. Only then may the edit start.
func writeJournal(dir string, j *journal) (string, error) {
	// A fresh data directory has no journal directory yet: create it, and
	// make its entry durable, else the first in-place edit fails.
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create the journal directory: %w", err)
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return "", err
		}
	}
	name := journalName(dir, j.path)
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("write journal: %w", err)
	}
	if _, err := f.Write(j.encode()); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return "", fmt.Errorf("fsync journal: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write journal: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write journal: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return name, nil
}

// restore undoes an in-place edit: the header bytes written back, the file
// truncated to its old length, fsynced, and its mtime put back.
func (j *journal) restore() error {
	f, err := os.OpenFile(j.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("restore %s: %w", j.path, err)
	}
	defer f.Close()
	if _, err := f.WriteAt(j.prefix, 0); err != nil {
		return fmt.Errorf("restore %s: %w", j.path, err)
	}
	if err := f.Truncate(j.size); err != nil {
		return fmt.Errorf("restore %s: %w", j.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("restore %s: fsync: %w", j.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("restore %s: %w", j.path, err)
	}
	if err := os.Chtimes(j.path, time.Time{}, j.mtime); err != nil {
		return fmt.Errorf("restore %s: mtime: %w", j.path, err)
	}
	return nil
}

// removeJournal deletes a journal and fsyncs its directory.
func removeJournal(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return syncDir(filepath.Dir(name))
}

// ReplayJournals undoes the in-place edits that a crash interrupted: for
// each journal in dir it restores the file's header and length (and mtime)
// and removes the journal, logging each. A torn journal (the crash came
// while it was written, so the edit never started) is only removed. Call it
// at startup, before any apply. A missing dir is not an error.
func ReplayJournals(dir string, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.Default()
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replay journals: %w", err)
	}
	var restored []string
	var errs []error
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), journalSuffix+".tmp") {
			_ = os.Remove(name)
			continue
		}
		if !strings.HasSuffix(e.Name(), journalSuffix) {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("replay journal: %w", err))
			continue
		}
		j, err := decodeJournal(data)
		switch {
		case errors.Is(err, errTornJournal):
			log.Warn("removed an incomplete apply journal", "journal", name)
		case err != nil:
			errs = append(errs, err)
			continue
		default:
			if _, statErr := os.Stat(j.path); errors.Is(statErr, os.ErrNotExist) {
				log.Warn("apply journal for a file that is gone; removed", "journal", name, "path", j.path)
				break
			}
			if err := j.restore(); err != nil {
				errs = append(errs, err)
				continue
			}
			log.Warn("restored a file whose in-place edit was interrupted", "path", j.path, "journal", name)
			restored = append(restored, j.path)
		}
		if err := removeJournal(name); err != nil {
			errs = append(errs, err)
		}
	}
	return restored, errors.Join(errs...)
}

// journalFor reads what an in-place edit of the file would need to undo
// it, or returns an error (errNoCluster) when the file must be edited on a
// copy instead.
//
// The journal holds the bytes before the first Cluster and the old length,
// which undo an edit only if mkvpropedit writes nowhere else: so the
// header must have been read in-process (a Segment of known size ending
// at the file's end) and hold the Tracks element, and no SeekHead entry
// may point at a Tracks or SeekHead element past the first Cluster. A file
// an earlier in-place edit grew has its Tracks past the clusters: a second
// edit rewrites them there, between the first Cluster and the old end, or
// moves them back and truncates the file, neither of which the journal
// could undo.
func (j *job) journalFor() (*journal, error) {
	h := j.head
	if h == nil {
		return nil, fmt.Errorf("%w: the header was not read in-process", errNoCluster)
	}
	if h.tracks == nil {
		return nil, fmt.Errorf("%w: the Tracks element is past the first Cluster", errNoCluster)
	}
	for _, s := range h.seeks {
		if (s.id == tracksID || s.id == seekHeadID) && h.segData+s.pos >= h.clusterAt {
			return nil, fmt.Errorf("%w: a SeekHead entry points at a %s past the first Cluster", errNoCluster, map[bool]string{true: "Tracks", false: "SeekHead"}[s.id == tracksID])
		}
	}
	return &journal{path: j.path, size: j.st.Size(), mtime: j.st.ModTime(), prefix: h.prefix}, nil
}

// runInPlace edits the file itself with mkvpropedit under a journal,
// verifies it, and on any failure restores it. It returns handled false
// (and no error) when the file cannot be journaled, so the caller edits a
// copy.
func (j *job) runInPlace(ctx context.Context, refs map[int]mkvRef) (res Result, handled bool, err error) {
	jr, err := j.journalFor()
	if errors.Is(err, errNoCluster) {
		j.e.log().Debug("apply: header cannot be journaled; editing a copy", "path", j.path, "reason", err.Error())
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, true, err
	}
	args, err := mkvPropEditArgs(j.req.Plan.File.Tracks, j.target.Tracks, refs)
	if err != nil {
		return Result{}, true, err
	}
	name, err := writeJournal(j.e.JournalDir, jr)
	if err != nil {
		return Result{}, true, err
	}
	undo := func(cause error) error {
		if rerr := jr.restore(); rerr != nil {
			// The journal stays, so the next start restores the file.
			return fmt.Errorf("%w; and restoring the original failed (the journal %s is kept for the next start): %w", cause, name, rerr)
		}
		if rerr := removeJournal(name); rerr != nil {
			return fmt.Errorf("%w; original restored, but: %w", cause, rerr)
		}
		return cause
	}
	// When ctx ends mkvpropedit is killed, and the journal undoes whatever
	// it had written.
	_, err = j.e.tool(ToolMKVPropEdit).Run(ctx, toolrun.Cmd{
		Args:    append([]string{j.path}, args...),
		Timeout: j.e.Timeout,
		OKExit:  []int{mkvExitWarnings},
	})
	if err != nil {
		return Result{}, true, undo(err)
	}
	if err := syncFile(j.path); err != nil {
		return Result{}, true, undo(err)
	}
	if j.headMapped {
		// The header as mkvpropedit left it, read in-process: exactly the
		// planned changes, and nothing else touched.
		nh, exact, err := verifyHead(j.path, j.head, j.wantByUID(refs))
		if err != nil {
			return Result{}, true, undo(err)
		}
		if !exact {
			j.e.log().Debug("apply: mkvpropedit re-encoded header elements; verifying with ffprobe", "path", j.path)
		} else if r := j.derivedProbe(nh, refs); r != nil {
			if err := removeJournal(name); err != nil {
				return Result{}, true, err
			}
			res = Result{Path: j.path, Changed: true, Tool: ToolMKVPropEdit, InPlace: true, Container: r.Container, Probe: r, Size: nh.size}
			for _, t := range r.Tracks {
				res.Tracks = append(res.Tracks, policy.TrackFromProbe(t))
			}
			return res, true, nil
		}
	}
	got, err := j.e.probeDetails(context.WithoutCancel(ctx), j.path)
	if err != nil {
		return Result{}, true, undo(fmt.Errorf("%w: probe the edited file: %w", ErrVerify, err))
	}
	notes, err := j.verify(got)
	if err != nil {
		return Result{}, true, undo(err)
	}
	if err := removeJournal(name); err != nil {
		return Result{}, true, err
	}
	res = Result{Path: j.path, Changed: true, Tool: ToolMKVPropEdit, InPlace: true, Container: got.result.Container, Notes: notes, Probe: got.result}
	for _, t := range got.result.Tracks {
		res.Tracks = append(res.Tracks, policy.TrackFromProbe(t))
	}
	if st, err := os.Stat(j.path); err == nil {
		res.Size = st.Size()
	}
	return res, true, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return f.Close()
}
