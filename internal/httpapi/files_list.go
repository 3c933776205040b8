package httpapi

import (
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vpo-project/vpo/internal/catalog"
)

// GET /api/files writes its page with the appenders below instead of
// encoding/json: each entry goes from the store's row straight into one pooled
// buffer, timestamps as the stored text rewritten (catalog.Timestamp), with no
// intermediate views and no reflection. The output is byte for byte what
// encoding/json (SetEscapeHTML(false)) writes for the same values; the tests
// compare the two.

// listBufs holds the response buffers of GET /api/files. A page of 100 is ~50 KB.
var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledList is the largest buffer put back in listBufs: a rare page of 1,000
// long paths is not kept alive.
const maxPooledList = 1 << 20

// writeFileList writes the answer of GET /api/files: the entries and, when set,
// the next page's cursor.
func writeFileList(w http.ResponseWriter, entries []catalog.FileEntry, next string) {
	bp := listBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"files":[`...)
	for i := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEntry(b, &entries[i])
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendString(b, next)
	}
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledList {
		*bp = b
		listBufs.Put(bp)
	}
}

// appendEntry appends one file of a listing: FileView's fields and names, with
// "tracks" the track summaries ([] when the file has none).
func appendEntry(b []byte, e *catalog.FileEntry) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	if !utf8.ValidString(e.Path) {
		b = append(b, `,"path_bytes":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(e.Path))
		b = append(b, '"')
	}
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, e.Size, 10)
	b = append(b, `,"mtime":"`...)
	b = time.Unix(0, e.MtimeNS).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","fingerprint":`...)
	b = appendString(b, e.Fingerprint)
	b = append(b, `,"container":`...)
	b = appendString(b, e.Container)
	b = append(b, `,"duration":`...)
	b = appendFloat(b, e.Duration)
	b = append(b, `,"bit_rate":`...)
	b = strconv.AppendInt(b, e.BitRate, 10)
	if e.ProbeError != "" {
		b = append(b, `,"probe_error":`...)
		b = appendString(b, e.ProbeError)
	}
	b = append(b, `,"probed_at":`...)
	if e.ProbedAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = e.ProbedAt.AppendRFC3339(b)
		b = append(b, '"')
	}
	b = append(b, `,"missing":`...)
	b = strconv.AppendBool(b, e.Missing)
	b = append(b, `,"first_seen":"`...)
	b = e.FirstSeen.AppendRFC3339(b)
	b = append(b, `","updated_at":"`...)
	b = e.UpdatedAt.AppendRFC3339(b)
	b = append(b, `","tracks":[`...)
	for i := range e.Tracks {
		t := &e.Tracks[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(t.Index), 10)
		b = append(b, `,"type":`...)
		b = appendString(b, t.Type)
		b = append(b, `,"codec":`...)
		b = appendString(b, t.Codec)
		b = append(b, `,"language":`...)
		b = appendString(b, t.Language)
		b = append(b, `,"default":`...)
		b = strconv.AppendBool(b, t.Default)
		b = append(b, `,"forced":`...)
		b = strconv.AppendBool(b, t.Forced)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendFloat appends f as encoding/json does (null for NaN and infinities, which
// it refuses and the catalogue cannot hold).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json with
// SetEscapeHTML(false) does: quotes, backslashes and control characters escaped,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
