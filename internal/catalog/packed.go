package catalog

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vpo-project/vpo/internal/probe"
)

// A file's packed tracks (the files.tracks_packed column, migration 00005) are
// its tracks as one JSON array, one array per track in index order:
//
//	[idx, default, forced, channels, width, height, type, codec, language, title]
//
// with the flags 0 or 1 and a missing number 0; "[]" for a file without tracks.
// RecordFile writes them (packTracks) in the transaction that writes the tracks
// rows; EachFile and ListFileEntries read them (unpackTracks), so that reading a
// file with its tracks is one row and one column more, not a join. Strings are
// stored byte for byte: only the quote, the backslash and control characters are
// escaped, so a tag that is not UTF-8 reads back as it was written.

// packTracks appends tracks, packed, to b. Tracks not in index order are
// packed in index order.
func packTracks(b []byte, tracks []probe.Track) []byte {
	byIndex := func(a, b probe.Track) int { return cmp.Compare(a.Index, b.Index) }
	if !slices.IsSortedFunc(tracks, byIndex) {
		tracks = slices.SortedFunc(slices.Values(tracks), byIndex)
	}
	b = append(b, '[')
	for i := range tracks {
		t := &tracks[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(t.Index), 10)
		b = append(b, ',', flag(t.Default), ',', flag(t.Forced), ',')
		b = strconv.AppendInt(b, int64(t.Channels), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(t.Width), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(t.Height), 10)
		for _, s := range []string{t.Type, t.Codec, t.Language, t.Title} {
			b = append(b, ',')
			b = appendPackedString(b, s)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

func flag(v bool) byte {
	if v {
		return '1'
	}
	return '0'
}

// appendPackedString appends s as a JSON string, escaping only what JSON
// requires (quote, backslash, control characters); other bytes, valid UTF-8 or
// not, are copied.
func appendPackedString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var errPacked = errors.New("malformed packed tracks")

// unpackTracks parses packed tracks, as packTracks writes them or as SQLite's
// json_array and json_group_array build them (migration 00005's backfill). It
// is a small parser for exactly that shape, several times faster than
// encoding/json. intern maps strings already seen to one copy.
func unpackTracks(b []byte, intern map[string]string) ([]probe.Track, error) {
	out, err := appendTracks(nil, b, intern)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// appendTracks parses packed tracks as unpackTracks does and appends them to
// dst: a page of files shares one array.
func appendTracks(dst []probe.Track, b []byte, intern map[string]string) ([]probe.Track, error) {
	start := len(dst)
	p := packedParser{b: b, intern: intern, titles: true}
	for {
		var t probe.Track
		ok, err := p.next(&t)
		if err != nil {
			return dst[:start], err
		}
		if !ok {
			break
		}
		dst = append(dst, t)
	}
	// Both writers pack in index order; a value edited by hand need not be.
	if byIndex := func(a, b probe.Track) int { return cmp.Compare(a.Index, b.Index) }; !slices.IsSortedFunc(dst[start:], byIndex) {
		slices.SortFunc(dst[start:], byIndex)
	}
	return dst, nil
}

// appendSummaries parses packed tracks as unpackTracks does and appends their
// summaries to dst, without reading the titles (a listing does not show them).
func appendSummaries(dst []TrackSummary, b []byte, intern map[string]string) ([]TrackSummary, error) {
	start := len(dst)
	p := packedParser{b: b, intern: intern}
	for {
		var t probe.Track
		ok, err := p.next(&t)
		if err != nil {
			return dst[:start], err
		}
		if !ok {
			break
		}
		dst = append(dst, TrackSummary{Index: t.Index, Type: t.Type, Codec: t.Codec, Language: t.Language,
			Default: t.Default, Forced: t.Forced})
	}
	if byIndex := func(a, b TrackSummary) int { return cmp.Compare(a.Index, b.Index) }; !slices.IsSortedFunc(dst[start:], byIndex) {
		slices.SortFunc(dst[start:], byIndex)
	}
	return dst, nil
}

// next reads the next track of p.b into t; false at the end of the array.
func (p *packedParser) next(t *probe.Track) (bool, error) {
	switch {
	case p.i == 0:
		if !p.eat('[') {
			return false, errPacked
		}
		if p.eat(']') {
			p.done = true
			return false, p.end()
		}
	case p.done:
		return false, nil
	default:
		if !p.eat(',') {
			return false, errPacked
		}
	}
	if !p.eat('[') {
		return false, errPacked
	}
	var ints [6]int
	for i := range ints {
		v, ok := p.int()
		if !ok || !p.eat(',') {
			return false, errPacked
		}
		ints[i] = v
	}
	t.Index, t.Default, t.Forced, t.Channels, t.Width, t.Height = ints[0], ints[1] != 0, ints[2] != 0, ints[3], ints[4], ints[5]
	var ok bool
	if t.Type, ok = p.str(); !ok || !p.eat(',') {
		return false, errPacked
	}
	if t.Codec, ok = p.str(); !ok || !p.eat(',') {
		return false, errPacked
	}
	if t.Language, ok = p.str(); !ok || !p.eat(',') {
		return false, errPacked
	}
	if p.titles {
		t.Title, ok = p.str()
	} else {
		ok = p.skipStr()
	}
	if !ok || !p.eat(']') {
		return false, errPacked
	}
	if p.eat(']') {
		p.done = true
		if err := p.end(); err != nil {
			return false, err
		}
	}
	return true, nil
}

type packedParser struct {
	b      []byte
	i      int
	intern map[string]string
	// titles: read the titles (else they are checked and skipped).
	titles bool
	done   bool // the array's closing bracket was read
}

func (p *packedParser) end() error {
	if p.i != len(p.b) {
		return errPacked
	}
	return nil
}

func (p *packedParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *packedParser) int() (int, bool) {
	start := p.i
	for p.i < len(p.b) && (p.b[p.i] == '-' || p.b[p.i] >= '0' && p.b[p.i] <= '9') {
		p.i++
	}
	if p.i-start == 1 && p.b[start] >= '0' && p.b[start] <= '9' { // most of them: 0, 1, 2, 6
		return int(p.b[start] - '0'), true
	}
	v, err := strconv.Atoi(string(p.b[start:p.i]))
	return v, err == nil
}

func (p *packedParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			return p.escaped(start)
		case '"':
			raw := p.b[start:p.i]
			p.i++
			if s, ok := p.intern[string(raw)]; ok {
				return s, true
			}
			s := string(raw)
			if len(p.intern) < 4096 {
				p.intern[s] = s
			}
			return s, true
		}
		p.i++
	}
	return "", false
}

// skipStr checks a string as str reads it, without making one.
func (p *packedParser) skipStr() bool {
	if !p.eat('"') {
		return false
	}
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				if _, ok := p.hex4(); !ok {
					return false
				}
			default:
				return false
			}
		default:
			p.i++
		}
	}
	return false
}

// escaped reads the rest of a string that has an escape, from start (after
// its opening quote); p.i is at the first backslash. Bytes other than escapes
// are copied as they are (encoding/json would turn bytes that are not UTF-8
// into U+FFFD).
func (p *packedParser) escaped(start int) (string, bool) {
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", false
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							p.i = save // a lone surrogate: the next escape stands alone
						}
					} else {
						return "", false
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *packedParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}
