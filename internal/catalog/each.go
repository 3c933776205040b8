package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/vpo-project/vpo/internal/probe"
)

// EachPage is how many files EachFile reads per query: the width of the id
// range a page covers.
const EachPage = 1000

// eachReaders is how many pages EachFile reads at once, each on its own
// connection, beside the caller that works through the current page
// (docs/benchmarks.md, "Policy dry run").
const eachReaders = 2

// EachFile calls fn for every file that f selects, in id order, with its
// tracks, and stops at the first error fn returns (returned unchanged).
// f.After starts after a file; f.Limit is ignored. A track's frame rate and
// channel layout are not read (they are zero). Files catalogued after
// EachFile started, with an id above the largest it saw then, are not read.
//
// It streams: the ids are cut into ranges of EachPage, read one query per
// range that returns each file with its packed tracks, the column RecordFile
// stores beside the file (packed.go; a row per file, not per track: reading a
// column costs more than parsing the JSON), so memory stays bounded whatever the
// size of the catalogue. eachReaders ranges
// are read at once, each on its own connection and goroutine, while fn works
// through the current page on the caller's goroutine; pages reach fn in id
// order. No read transaction stays open while fn runs, so fn may use the
// store.
func (s *Store) EachFile(ctx context.Context, f FileFilter, fn func(File) error) error {
	var lo, hi sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.q.fileIDRange, f.After).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("read files: %w", Classify(err))
	}
	if !lo.Valid {
		return ctx.Err()
	}
	first := lo.Int64 - 1 // page k covers ids (first+k*EachPage, first+(k+1)*EachPage]
	type page struct {
		files []File
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// The readers end before EachFile returns: cancel, then wait for them.
	defer func() { cancel(); wg.Wait() }()
	// Reader w reads pages w, w+eachReaders, ... into its own channel, so that
	// taking page k from channel k%eachReaders keeps id order.
	chans := make([]chan page, eachReaders)
	for w := range chans {
		chans[w] = make(chan page, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(chans[w])
			for k := int64(w); first+k*EachPage < hi.Int64; k += eachReaders {
				files, err := s.filePage(ctx, f, first+k*EachPage, first+(k+1)*EachPage)
				select {
				case chans[w] <- page{files, err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	for k := 0; ; k++ {
		p, ok := <-chans[k%eachReaders]
		if !ok { // every later page is past hi too
			break
		}
		if p.err != nil {
			return p.err
		}
		for i := range p.files {
			if err := fn(p.files[i]); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// filePage reads the files that f selects with lo < id <= hi.
func (s *Store) filePage(ctx context.Context, f FileFilter, lo, hi int64) ([]File, error) {
	f.After = lo
	where, args := s.fileWhere(f, whereOpts{idCursor: true})
	where = append(where, s.q.filterUpTo)
	args = append(args, hi)
	q := s.q.selectFilesWithTracks + " WHERE " + strings.Join(where, " AND ") + s.q.orderByIDLimit
	args = append(args, EachPage)
	return s.readFilesWithTracks(ctx, q, args, EachPage)
}

// ListFilesWithTracks returns a page of files in id order, as ListFiles
// selects them (its Sort and Desc are ignored), each with its tracks as
// EachFile reads them (no frame rate or channel layout), in one query: for a
// caller that evaluates a policy on a bounded page of files.
func (s *Store) ListFilesWithTracks(ctx context.Context, f FileFilter) ([]File, error) {
	where, args := s.fileWhere(f, whereOpts{idCursor: true})
	q := s.q.selectFilesWithTracks
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += s.q.orderByIDLimit
	return s.readFilesWithTracks(ctx, q, append(args, f.Limit), min(max(f.Limit, 0), EachPage))
}

// readFilesWithTracks runs a selectFilesWithTracks query.
func (s *Store) readFilesWithTracks(ctx context.Context, q string, args []any, size int) ([]File, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read files: %w", Classify(err))
	}
	defer rows.Close()
	out := make([]File, 0, size)
	// One array for the page's tracks (a file's are a slice of it), grown
	// as needed: an allocation a page, not one a file.
	var all []probe.Track
	// Types, codecs, languages and many titles repeat from file to file: one
	// string each per page rather than one per track.
	intern := make(map[string]string)
	// RawBytes reuses one buffer for every row (a []byte would be a new copy
	// of each row's JSON); unpackTracks copies what it keeps.
	var packed sql.RawBytes
	for rows.Next() {
		file, err := scanFile(packedRow{rows, &packed})
		if err != nil {
			return nil, fmt.Errorf("read files: %w", Classify(err))
		}
		if all == nil {
			all = make([]probe.Track, 0, 8*size)
		}
		start := len(all)
		if all, err = appendTracks(all, packed, intern); err != nil {
			return nil, fmt.Errorf("read tracks of file %d: %w", file.ID, err)
		}
		if len(all) > start {
			file.Tracks = all[start:len(all):len(all)]
		}
		out = append(out, file)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read files: %w", Classify(err))
	}
	return out, nil
}

// packedRow scans a file row followed by its packed tracks (the last column
// of selectFilesWithTracks).
type packedRow struct {
	r      rowScanner
	packed *sql.RawBytes
}

func (p packedRow) Scan(dest ...any) error { return p.r.Scan(append(dest, p.packed)...) }
