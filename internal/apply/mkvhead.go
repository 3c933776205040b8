package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
)

// The Matroska header, read in-process.
//
// For a metadata-only edit apply needs the tracks' UIDs and properties
// (which `mkvmerge -J` would report) and, after mkvpropedit, the proof that
// it wrote what the plan says and nothing else. Both are in the bytes
// before the first Cluster, which the journal reads anyway. readHead parses
// them strictly: any structure it does not expect (an unknown-size Segment,
// a Segment that does not end where the file does, a Tracks element not in
// the header, duplicate or malformed track properties, track types other
// than video, audio and subtitles) is an error, and apply
// then falls back to the tools (mkvmerge -J, ffprobe) rather than guessing.

// More EBML IDs (the ones journal.go walks are there).
const (
	docTypeID       = 0x4282
	seekHeadID      = 0x114D9B74
	seekID          = 0x4DBB
	seekIDID        = 0x53AB
	seekPositionID  = 0x53AC
	voidID          = 0xEC
	crc32ID         = 0xBF
	tracksID        = 0x1654AE6B
	trackEntryID    = 0xAE
	trackNumberID   = 0xD7
	trackUIDID      = 0x73C5
	trackTypeID     = 0x83
	codecIDID       = 0x86
	flagDefaultID   = 0x88
	flagForcedID    = 0x55AA
	languageID      = 0x22B59C
	languageBCP47ID = 0x22B59D
	nameID          = 0x536E
	attachmentsID   = 0x1941A469
	attachedFileID  = 0x61A7
	fileNameID      = 0x466E
	fileMimeTypeID  = 0x4660
	fileUIDID       = 0x46AE
)

// Matroska TrackType values apply knows.
const (
	trackTypeVideo    = 1
	trackTypeAudio    = 2
	trackTypeSubtitle = 0x11
)

// errHead is wrapped by every readHead error: the header is not one apply
// reads in-process, so the tools decide.
var errHead = errors.New("matroska header not read in-process")

// sampleLen is how many bytes after the first Cluster and before the old
// end are kept, to check after an edit that the clusters were not touched.
const sampleLen = 64 << 10

// element is one EBML element: its ID, absolute offset, header length and
// data size.
type element struct {
	id        uint64
	off, hdr  int64
	size      int64
	dataStart int64
}

func (e element) end() int64 { return e.dataStart + e.size }

// mkvEntry is one TrackEntry.
type mkvEntry struct {
	number, uid, typ uint64
	codecID          string
	// Absent elements hold the Matroska defaults: FlagDefault 1,
	// FlagForced 0, Language "eng".
	flagDefault, flagForced bool
	language, languageBCP47 string
	hasBCP47                bool
	name                    string
	// other holds every other child (header and data bytes), in order.
	other [][]byte
}

type mkvAttached struct {
	fileName, mimeType string
	uid                uint64
}

type mkvSeek struct {
	id  uint64
	pos int64 // relative to the Segment's data
}

// mkvHead is a Matroska file's header as readHead parsed it.
type mkvHead struct {
	size      int64 // the file's size
	prefix    []byte
	segStart  int64 // the Segment element's offset
	segData   int64 // its data's offset
	clusterAt int64
	// children are the Segment's children before the first Cluster, and
	// appended those between size and the new end that verifyHead reads.
	children []element
	// tracks is nil when the header holds no Tracks element.
	tracks      []mkvEntry
	tracksAt    int64
	attachments []mkvAttached
	hasAttach   bool
	seeks       []mkvSeek
	// head and tail sample the bytes after the first Cluster and before
	// the end.
	head, tail []byte
}

// readHead reads and parses the header of the Matroska file at path, of
// the given size.
func readHead(path string, size int64) (*mkvHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseHead(f, size)
}

// parseHead parses the header of the Matroska file r of the given size.
// Errors wrap errNoCluster when the first Cluster is not found (the file
// cannot be journaled), else errHead.
func parseHead(r io.ReaderAt, size int64) (*mkvHead, error) {
	off, err := firstCluster(r, size)
	if err != nil {
		return nil, err
	}
	h := &mkvHead{size: size, clusterAt: off, prefix: make([]byte, off)}
	if _, err := r.ReadAt(h.prefix, 0); err != nil {
		return nil, fmt.Errorf("%w: read %d bytes: %w", errHead, off, err)
	}
	h.head = make([]byte, min(sampleLen, size-off))
	if _, err := r.ReadAt(h.head, off); err != nil {
		return nil, fmt.Errorf("%w: read the first cluster: %w", errHead, err)
	}
	h.tail = make([]byte, min(sampleLen, size-off))
	if _, err := r.ReadAt(h.tail, size-int64(len(h.tail))); err != nil {
		return nil, fmt.Errorf("%w: read the end: %w", errHead, err)
	}
	p := bytes.NewReader(h.prefix)
	ebml, err := readElement(p, 0, off)
	if err != nil || ebml.id != ebmlHeaderID {
		return nil, fmt.Errorf("%w: no EBML header", errHead)
	}
	kids, err := walk(p, ebml.dataStart, ebml.end())
	if err != nil {
		return nil, fmt.Errorf("%w: EBML header: %w", errHead, err)
	}
	docType := ""
	for _, k := range kids {
		if k.id == docTypeID {
			docType = ebmlString(h.prefix, k)
		}
	}
	if docType != "matroska" && docType != "webm" {
		return nil, fmt.Errorf("%w: document type %q", errHead, docType)
	}
	seg, err := elementAt(p, ebml.end())
	if err != nil || seg.id != segmentID {
		return nil, fmt.Errorf("%w: no Segment", errHead)
	}
	if seg.size < 0 {
		return nil, fmt.Errorf("%w: Segment of unknown size", errHead)
	}
	if seg.end() != size {
		return nil, fmt.Errorf("%w: the Segment ends at %d, the file at %d", errHead, seg.end(), size)
	}
	h.segStart, h.segData = seg.off, seg.dataStart
	if h.children, err = walk(p, seg.dataStart, off); err != nil {
		return nil, fmt.Errorf("%w: Segment: %w", errHead, err)
	}
	if err := h.parseChildren(p, h.children); err != nil {
		return nil, err
	}
	return h, nil
}

// parseChildren parses the Segment children els (Tracks, Attachments,
// SeekHead) read from r, adding to h.
func (h *mkvHead) parseChildren(r io.ReaderAt, els []element) error {
	for _, el := range els {
		var err error
		switch el.id {
		case tracksID:
			if h.tracks != nil {
				return fmt.Errorf("%w: two Tracks elements", errHead)
			}
			h.tracks, err = parseTracks(r, el)
			h.tracksAt = el.off
		case attachmentsID:
			if h.hasAttach {
				return fmt.Errorf("%w: two Attachments elements", errHead)
			}
			h.hasAttach = true
			h.attachments, err = parseAttachments(r, el)
		case seekHeadID:
			var s []mkvSeek
			s, err = parseSeekHead(r, el)
			h.seeks = append(h.seeks, s...)
		case clusterID:
			err = fmt.Errorf("%w: a Cluster where none is expected", errHead)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readElement reads the element at pos, which must end by end.
func readElement(r io.ReaderAt, pos, end int64) (element, error) {
	el, err := elementAt(r, pos)
	if err != nil {
		return el, err
	}
	if el.size < 0 {
		return el, fmt.Errorf("element 0x%X at %d has an unknown size", el.id, pos)
	}
	if el.size > end-el.dataStart {
		return el, fmt.Errorf("element 0x%X at %d overruns its parent", el.id, pos)
	}
	return el, nil
}

func elementAt(r io.ReaderAt, pos int64) (element, error) {
	id, n, sz, err := elementHeader(r, pos)
	if err != nil {
		return element{}, fmt.Errorf("at %d: %w", pos, err)
	}
	return element{id: id, off: pos, hdr: n, size: sz, dataStart: pos + n}, nil
}

// walk returns the elements from start to end, which must fill it exactly.
func walk(r io.ReaderAt, start, end int64) ([]element, error) {
	var out []element
	for pos := start; pos < end; {
		el, err := readElement(r, pos, end)
		if err != nil {
			return nil, err
		}
		out = append(out, el)
		pos = el.end()
	}
	return out, nil
}

// data returns an element's data bytes from r.
func data(r io.ReaderAt, el element) ([]byte, error) {
	if el.size > maxJournalPrefix {
		return nil, fmt.Errorf("element 0x%X of %d bytes", el.id, el.size)
	}
	b := make([]byte, el.size)
	if _, err := r.ReadAt(b, el.dataStart); err != nil {
		return nil, err
	}
	return b, nil
}

// raw returns an element's header and data bytes.
func raw(r io.ReaderAt, el element) ([]byte, error) {
	return data(r, element{id: el.id, off: el.off, size: el.size + el.hdr, dataStart: el.off})
}

func ebmlUint(b []byte) (uint64, error) {
	if len(b) > 8 {
		return 0, fmt.Errorf("unsigned integer of %d bytes", len(b))
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// ebmlString is an EBML string without its trailing zero padding.
func ebmlString(prefix []byte, el element) string {
	return string(bytes.TrimRight(prefix[el.dataStart:el.end()], "\x00"))
}

func parseTracks(r io.ReaderAt, tracks element) ([]mkvEntry, error) {
	kids, err := walk(r, tracks.dataStart, tracks.end())
	if err != nil {
		return nil, fmt.Errorf("%w: Tracks: %w", errHead, err)
	}
	entries := make([]mkvEntry, 0, len(kids))
	for _, k := range kids {
		if k.id == crc32ID || k.id == voidID {
			continue // mkvpropedit rewrites the CRC-32 with the element
		}
		if k.id != trackEntryID {
			return nil, fmt.Errorf("%w: element 0x%X in Tracks", errHead, k.id)
		}
		e, err := parseTrackEntry(r, k)
		if err != nil {
			return nil, fmt.Errorf("%w: TrackEntry at %d: %w", errHead, k.off, err)
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: Tracks without a TrackEntry", errHead)
	}
	return entries, nil
}

func parseTrackEntry(r io.ReaderAt, entry element) (mkvEntry, error) {
	e := mkvEntry{flagDefault: true, language: "eng"}
	kids, err := walk(r, entry.dataStart, entry.end())
	if err != nil {
		return e, err
	}
	seen := map[uint64]bool{}
	for _, k := range kids {
		switch k.id {
		case trackNumberID, trackUIDID, trackTypeID, codecIDID, flagDefaultID, flagForcedID, languageID, languageBCP47ID, nameID:
			if seen[k.id] {
				return e, fmt.Errorf("element 0x%X twice", k.id)
			}
			seen[k.id] = true
		default:
			b, err := raw(r, k)
			if err != nil {
				return e, err
			}
			e.other = append(e.other, b)
			continue
		}
		b, err := data(r, k)
		if err != nil {
			return e, err
		}
		str := string(bytes.TrimRight(b, "\x00"))
		var u uint64
		switch k.id {
		case trackNumberID, trackUIDID, trackTypeID, flagDefaultID, flagForcedID:
			if u, err = ebmlUint(b); err != nil {
				return e, err
			}
		default:
			if !utf8.ValidString(str) {
				return e, fmt.Errorf("element 0x%X is not UTF-8", k.id)
			}
		}
		switch k.id {
		case trackNumberID:
			e.number = u
		case trackUIDID:
			e.uid = u
		case trackTypeID:
			e.typ = u
		case flagDefaultID:
			e.flagDefault = u != 0
		case flagForcedID:
			e.flagForced = u != 0
		case codecIDID:
			e.codecID = str
		case languageID:
			e.language = str
		case languageBCP47ID:
			e.languageBCP47, e.hasBCP47 = str, true
		case nameID:
			e.name = str
		}
	}
	switch {
	case e.number == 0:
		return e, errors.New("no TrackNumber")
	case e.uid == 0:
		return e, errors.New("no TrackUID")
	case e.codecID == "":
		return e, errors.New("no CodecID")
	}
	switch e.typ {
	case trackTypeVideo, trackTypeAudio, trackTypeSubtitle:
	default:
		return e, fmt.Errorf("track type %d", e.typ)
	}
	return e, nil
}

func parseAttachments(r io.ReaderAt, el element) ([]mkvAttached, error) {
	kids, err := walk(r, el.dataStart, el.end())
	if err != nil {
		return nil, fmt.Errorf("%w: Attachments: %w", errHead, err)
	}
	var out []mkvAttached
	for _, k := range kids {
		if k.id == crc32ID || k.id == voidID {
			continue
		}
		if k.id != attachedFileID {
			return nil, fmt.Errorf("%w: element 0x%X in Attachments", errHead, k.id)
		}
		fields, err := walk(r, k.dataStart, k.end())
		if err != nil {
			return nil, fmt.Errorf("%w: AttachedFile: %w", errHead, err)
		}
		var a mkvAttached
		for _, f := range fields {
			switch f.id {
			case fileNameID, fileMimeTypeID, fileUIDID:
			default:
				continue // FileData, FileDescription, ...: not needed
			}
			b, err := data(r, f)
			if err != nil {
				return nil, fmt.Errorf("%w: AttachedFile: %w", errHead, err)
			}
			switch f.id {
			case fileNameID:
				a.fileName = string(bytes.TrimRight(b, "\x00"))
			case fileMimeTypeID:
				a.mimeType = string(bytes.TrimRight(b, "\x00"))
			case fileUIDID:
				if a.uid, err = ebmlUint(b); err != nil {
					return nil, fmt.Errorf("%w: AttachedFile: %w", errHead, err)
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func parseSeekHead(r io.ReaderAt, el element) ([]mkvSeek, error) {
	kids, err := walk(r, el.dataStart, el.end())
	if err != nil {
		return nil, fmt.Errorf("%w: SeekHead: %w", errHead, err)
	}
	var out []mkvSeek
	for _, k := range kids {
		if k.id == voidID || k.id == crc32ID {
			continue
		}
		if k.id != seekID {
			return nil, fmt.Errorf("%w: element 0x%X in SeekHead", errHead, k.id)
		}
		fields, err := walk(r, k.dataStart, k.end())
		if err != nil {
			return nil, fmt.Errorf("%w: Seek: %w", errHead, err)
		}
		var s mkvSeek
		var haveID, havePos bool
		for _, f := range fields {
			if f.id != seekIDID && f.id != seekPositionID {
				continue
			}
			b, err := data(r, f)
			if err != nil {
				return nil, fmt.Errorf("%w: Seek: %w", errHead, err)
			}
			v, err := ebmlUint(b)
			if err != nil || v > 1<<62 {
				return nil, fmt.Errorf("%w: Seek: bad value", errHead)
			}
			if f.id == seekIDID {
				s.id, haveID = v, true
			} else {
				s.pos, havePos = int64(v), true
			}
		}
		if !haveID || !havePos {
			return nil, fmt.Errorf("%w: Seek without an ID or a position", errHead)
		}
		out = append(out, s)
	}
	return out, nil
}

// info is the header as `mkvmerge -J` would report it (the part apply
// uses): track IDs in TrackEntry order, attachment IDs from 1.
func (h *mkvHead) info() (*mkvInfo, error) {
	if h.tracks == nil {
		return nil, fmt.Errorf("%w: no Tracks element before the first Cluster", errHead)
	}
	info := &mkvInfo{}
	info.Container.Recognized, info.Container.Supported = true, true
	for i, e := range h.tracks {
		t := mkvTrack{ID: i}
		switch e.typ {
		case trackTypeVideo:
			t.Type = "video"
		case trackTypeAudio:
			t.Type = "audio"
		default:
			t.Type = "subtitles"
		}
		p := &t.Properties
		p.UID, p.Number, p.CodecID = e.uid, int(e.number), e.codecID //nolint:gosec // a track number is small
		p.Language, p.Name, p.Default, p.Forced = e.language, e.name, e.flagDefault, e.flagForced
		info.Tracks = append(info.Tracks, t)
	}
	for i, a := range h.attachments {
		m := mkvAttachment{ID: i + 1, FileName: a.fileName, ContentType: a.mimeType}
		m.Properties.UID = a.uid
		info.Attachments = append(info.Attachments, m)
	}
	return info, nil
}

// ffprobeLanguage is the language ffprobe reports for a track: the
// Matroska Language element verbatim, none for "und".
func (e mkvEntry) ffprobeLanguage() string {
	if e.language == "und" {
		return ""
	}
	return e.language
}

// verifyHead re-reads the header of the file old was read from, after
// mkvpropedit edited it in place, and checks that the edit did exactly what
// the plan says: the EBML header, the first Cluster's offset, the clusters'
// bytes (sampled at both ends), and every Segment child but SeekHead, Void
// and Tracks are as they were; every SeekHead entry points at an element
// of its ID; the Segment ends where the file does; the same TrackEntries
// are there, each with the same children but for the flags, language and
// name, which are those of the target. want maps TrackUIDs to the target
// tracks. It returns the new header, or an error wrapping ErrVerify. The
// elements that should not have changed are compared by value (an
// unsigned integer re-encoded on fewer bytes is the same); exact is false
// when they differ in a way this comparison cannot tell apart from a
// change (a float re-encoded, say): the caller then verifies with ffprobe.
func verifyHead(path string, old *mkvHead, want map[uint64]policy.Track) (nh *mkvHead, exact bool, err error) {
	fail := func(format string, args ...any) (*mkvHead, bool, error) {
		return nil, false, fmt.Errorf("%w: the edited header: %s", ErrVerify, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	size := st.Size()
	if size < old.size {
		return fail("the file shrank from %d to %d bytes", old.size, size)
	}
	nh, err = parseHead(f, size)
	if err != nil {
		return fail("%v", err)
	}
	exact = true
	if nh.clusterAt != old.clusterAt || nh.segStart != old.segStart || nh.segData != old.segData {
		return fail("the Segment or its first Cluster moved")
	}
	if !bytes.Equal(nh.prefix[:nh.segStart], old.prefix[:old.segStart]) {
		return fail("the EBML header changed")
	}
	for _, s := range []struct {
		b   []byte
		off int64
	}{{old.head, old.clusterAt}, {old.tail, old.size - int64(len(old.tail))}} {
		b := make([]byte, len(s.b))
		if _, err := f.ReadAt(b, s.off); err != nil || !bytes.Equal(b, s.b) {
			return fail("the bytes at %d (the clusters) changed", s.off)
		}
	}
	var appended []element
	if size > old.size {
		// mkvpropedit writes an element that no longer fits in the header
		// past the old end (and leaves a Void where it was).
		if appended, err = walk(f, old.size, size); err != nil {
			return fail("past the old end: %v", err)
		}
		for _, el := range appended {
			if el.id != tracksID && el.id != seekHeadID && el.id != voidID {
				return fail("element 0x%X written past the old end", el.id)
			}
		}
		if err := nh.parseChildren(f, appended); err != nil {
			return fail("past the old end: %v", err)
		}
	}
	kept := func(r io.ReaderAt, els []element) ([][]byte, error) {
		var out [][]byte
		for _, el := range els {
			if el.id == seekHeadID || el.id == voidID || el.id == tracksID {
				continue
			}
			b, err := raw(r, el)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	}
	was, err := kept(bytes.NewReader(old.prefix), old.children)
	if err != nil {
		return fail("%v", err)
	}
	now, err := kept(f, append(slices.Clone(nh.children), appended...))
	if err != nil {
		return fail("%v", err)
	}
	if !slices.EqualFunc(was, now, sameElement) {
		exact = false
	}
	seekTracks := false
	for _, s := range nh.seeks {
		at := nh.segData + s.pos
		if at >= size {
			return fail("a SeekHead entry points past the end")
		}
		el, err := elementAt(f, at)
		if err != nil || el.id != s.id {
			return fail("the SeekHead entry for 0x%X points at something else", s.id)
		}
		if s.id == tracksID {
			seekTracks = true
			if at != nh.tracksAt {
				return fail("the SeekHead entry for Tracks points at another Tracks element")
			}
		}
	}
	if !seekTracks && slices.ContainsFunc(old.seeks, func(s mkvSeek) bool { return s.id == tracksID }) {
		return fail("the SeekHead lost its entry for Tracks")
	}
	if nh.tracks == nil {
		return fail("no Tracks element")
	}
	if len(nh.tracks) != len(old.tracks) {
		return fail("%d TrackEntries, were %d", len(nh.tracks), len(old.tracks))
	}
	var diffs []string
	for i, e := range nh.tracks {
		o := old.tracks[i]
		if e.number != o.number || e.uid != o.uid || e.typ != o.typ || e.codecID != o.codecID {
			return fail("TrackEntry %d (UID %d) changed its number, UID, type or codec", i, o.uid)
		}
		if !slices.EqualFunc(e.other, o.other, sameElement) {
			exact = false
		}
		w, ok := want[e.uid]
		if !ok {
			return fail("TrackEntry %d has UID %d, which the plan does not know", i, e.uid)
		}
		var d []string
		if e.flagDefault != w.Default {
			d = append(d, fmt.Sprintf("default %t, want %t", e.flagDefault, w.Default))
		}
		if e.flagForced != w.Forced {
			d = append(d, fmt.Sprintf("forced %t, want %t", e.flagForced, w.Forced))
		}
		if !policy.SameLanguage(e.language, w.Language) || e.hasBCP47 && !policy.SameLanguage(e.languageBCP47, w.Language) {
			d = append(d, fmt.Sprintf("language %q (BCP 47 %q), want %q", e.language, e.languageBCP47, w.Language))
		}
		if e.name != w.Title {
			d = append(d, fmt.Sprintf("name %q, want %q", e.name, w.Title))
		}
		if len(d) > 0 {
			diffs = append(diffs, fmt.Sprintf("track %d (was %d): %s", w.ID, w.ID, strings.Join(d, ", ")))
		}
	}
	if len(diffs) > 0 {
		return nil, false, fmt.Errorf("%w: %s", ErrVerify, strings.Join(diffs, "; "))
	}
	nh.size = size
	return nh, exact, nil
}

// masterIDs are the master elements sameElement compares child by child:
// those of a TrackEntry and of the Segment's children kept by an edit.
var masterIDs = map[uint64]bool{
	0xE0: true, 0xE1: true, 0x55B0: true, 0x55D0: true, 0x7670: true, // Video, Audio, Colour, MasteringMetadata, Projection
	0x6D80: true, 0x6240: true, 0x5034: true, 0x5035: true, 0x47E7: true, // ContentEncodings, ...Encoding, Compression, Encryption, AESSettings
	0xE2: true, 0xE3: true, 0xE4: true, 0xE9: true, 0x41E4: true, 0x6624: true, // TrackOperation, CombinePlanes, TrackPlane, JoinBlocks, BlockAdditionMapping, TrackTranslate
	0x7373: true, 0x63C0: true, 0x67C8: true, // Tag, Targets, SimpleTag
	attachmentsID: true, attachedFileID: true, 0x1254C367: true, // Attachments, AttachedFile, Tags
	0x1549A966: true, 0x1043A770: true, 0x45B9: true, 0xB6: true, 0x80: true, 0x8F: true, // Info, Chapters, EditionEntry, ChapterAtom, ChapterDisplay, ChapterTrack
}

// sameElement reports whether the raw elements a and b hold the same value:
// the same ID and, for a master element, the same children in the same
// order; else the same data, where data of up to 8 bytes that differ only
// by leading zero bytes (an unsigned integer on more bytes) are the same.
func sameElement(a, b []byte) bool {
	ra, rb := bytes.NewReader(a), bytes.NewReader(b)
	ea, err1 := readElement(ra, 0, int64(len(a)))
	eb, err2 := readElement(rb, 0, int64(len(b)))
	if err1 != nil || err2 != nil || ea.id != eb.id || ea.end() != int64(len(a)) || eb.end() != int64(len(b)) {
		return bytes.Equal(a, b)
	}
	da, db := a[ea.dataStart:], b[eb.dataStart:]
	if masterIDs[ea.id] {
		ka, err1 := walk(ra, ea.dataStart, ea.end())
		kb, err2 := walk(rb, eb.dataStart, eb.end())
		if err1 != nil || err2 != nil || len(ka) != len(kb) {
			return bytes.Equal(da, db)
		}
		for i := range ka {
			if !sameElement(a[ka[i].off:ka[i].end()], b[kb[i].off:kb[i].end()]) {
				return false
			}
		}
		return true
	}
	if len(da) <= 8 && len(db) <= 8 {
		return bytes.Equal(bytes.TrimLeft(da, "\x00"), bytes.TrimLeft(db, "\x00"))
	}
	return bytes.Equal(da, db)
}

// wantByUID maps the target tracks by the TrackUIDs refs gives them.
func (j *job) wantByUID(refs map[int]mkvRef) map[uint64]policy.Track {
	want := make(map[uint64]policy.Track, len(j.target.Tracks))
	for _, t := range j.target.Tracks {
		if r, ok := refs[t.ID]; ok && !r.attachment {
			want[r.uid] = t
		}
	}
	return want
}

// derivedProbe returns the ffprobe report of the edited file, derived from
// the catalogue's report of the source (Request.Source) and the verified
// new header nh: the same streams, with the flags, language and title the
// header now holds (as ffprobe reads them), and the bit rate scaled to the
// new size. It returns nil when there is no usable Source.
func (j *job) derivedProbe(nh *mkvHead, refs map[int]mkvRef) *probe.Result {
	src := j.req.Source
	if src == nil || src.Container != j.req.Plan.File.Container || len(src.Tracks) != len(j.req.Plan.File.Tracks) {
		return nil
	}
	for i, t := range src.Tracks {
		if policy.TrackFromProbe(t) != j.req.Plan.File.Tracks[i] {
			return nil
		}
	}
	byUID := make(map[uint64]mkvEntry, len(nh.tracks))
	for _, e := range nh.tracks {
		byUID[e.uid] = e
	}
	r := *src
	r.Tracks = slices.Clone(src.Tracks)
	for i := range r.Tracks {
		t := &r.Tracks[i]
		if t.Type == probe.TypeAttachment {
			continue
		}
		ref, ok := refs[t.Index]
		e, found := byUID[ref.uid]
		if !ok || ref.attachment || !found {
			return nil
		}
		t.Language, t.Title, t.Default, t.Forced = e.ffprobeLanguage(), e.name, e.flagDefault, e.flagForced
	}
	if r.BitRate > 0 && nh.size != j.st.Size() && j.st.Size() > 0 {
		r.BitRate = int64(float64(r.BitRate) * float64(nh.size) / float64(j.st.Size()))
	}
	return &r
}
