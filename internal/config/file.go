package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// fileLayout is the TOML layout, derived from the table of settings: a struct with a
// field per top-level key and a struct per [table], each setting a pointer field so
// that a key that is absent is told from one set to its zero value, and sources are
// recorded exactly.
//
// go-toml/v2 is used rather than BurntSushi/toml because its strict mode rejects
// unknown keys with their line and column, and its decode errors carry positions, so
// every file error can point at the offending line. Decoding into a struct (built
// with reflect.StructOf) rather than a map keeps both: the decoder knows each key's
// type and reports a mismatch where it is.
type fileLayout struct {
	typ reflect.Type
	// index[i] is the field index of specs[i] in typ; nil when it is not in the file.
	index [][]int
}

var layout = sync.OnceValue(newFileLayout)

func newFileLayout() fileLayout {
	// Top-level keys first, then one struct per table in the order the table of
	// settings first names it.
	var top []reflect.StructField
	var sections []string
	for _, s := range specs {
		if section, _, nested := strings.Cut(s.Key, "."); nested && !s.NotInFile && !slices.Contains(sections, section) {
			sections = append(sections, section)
		}
	}
	for _, s := range specs {
		if !s.NotInFile && !strings.Contains(s.Key, ".") {
			top = append(top, reflect.StructField{})
		}
	}
	sectionFields := make([][]reflect.StructField, len(sections))
	l := fileLayout{index: make([][]int, len(specs))}
	topCount := 0
	for i, s := range specs {
		if s.NotInFile {
			continue
		}
		section, name, nested := strings.Cut(s.Key, ".")
		if !nested {
			name = s.Key
		}
		f := reflect.StructField{
			Name: "F" + strconv.Itoa(i),
			Type: fileType(s.Kind),
			Tag:  reflect.StructTag(`toml:"` + name + `"`),
		}
		if !nested {
			l.index[i] = []int{topCount}
			top[topCount] = f
			topCount++
			continue
		}
		n := slices.Index(sections, section)
		l.index[i] = []int{len(top) + n, len(sectionFields[n])}
		sectionFields[n] = append(sectionFields[n], f)
	}
	for n, section := range sections {
		top = append(top, reflect.StructField{
			Name: "S" + strconv.Itoa(n),
			Type: reflect.StructOf(sectionFields[n]),
			Tag:  reflect.StructTag(`toml:"` + section + `"`),
		})
	}
	l.typ = reflect.StructOf(top)
	return l
}

// fileType is the Go type a setting of kind k decodes into.
func fileType(k Kind) reflect.Type {
	switch k {
	case KindInt, KindPort:
		return reflect.TypeFor[*int]()
	case KindSeconds:
		return reflect.TypeFor[*float64]()
	case KindBool:
		return reflect.TypeFor[*bool]()
	case KindList:
		return reflect.TypeFor[*[]string]()
	case KindRoots:
		return reflect.TypeFor[*[]any]()
	default:
		return reflect.TypeFor[*string]()
	}
}

// maxConfigSize bounds what is read from a config file; a real one is a few hundred
// bytes.
const maxConfigSize = 1 << 20

func applyFile(cfg *Config, path string, explicit bool) error {
	data, err := readConfig(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil // no file at the default path: defaults
		}
		return &Error{Origin: path, Msg: describeReadError(err), Err: err}
	}
	cfg.File = path

	l := layout()
	fc := reflect.New(l.typ)
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fc.Interface()); err != nil {
		return fileError(path, err)
	}
	for i, idx := range l.index {
		if idx == nil {
			continue
		}
		f := fc.Elem().FieldByIndex(idx)
		if f.IsNil() {
			continue
		}
		s := &specs[i]
		v := f.Elem().Interface()
		if s.Kind == KindRoots {
			roots, err := decodeRoots(v.([]any))
			if err != nil {
				return &Error{Origin: path, Key: s.Key, Msg: err.Error()}
			}
			v = roots
		}
		if secs, ok := v.(float64); ok {
			if math.IsNaN(secs) {
				return &Error{Origin: path, Key: s.Key, Msg: "nan is not a number of seconds"}
			}
			v = secondsToDuration(secs)
		}
		s.set(cfg, v)
		cfg.Sources[s.Key] = SourceFile
	}
	return nil
}

func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigSize)
	}
	return data, nil
}

func describeReadError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "file does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "cannot read file: permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot read file: " + pe.Err.Error()
	}
	return "cannot read file: " + err.Error()
}

// fileError turns a go-toml error into an *Error with the line, column and key.
func fileError(path string, err error) error {
	var sme *toml.StrictMissingError
	if errors.As(err, &sme) && len(sme.Errors) > 0 {
		de := sme.Errors[0]
		line, col := de.Position()
		return &Error{Origin: path, Line: line, Column: col, Key: strings.Join(de.Key(), "."),
			Msg: "unknown key", Err: err}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{Origin: path, Line: line, Column: col, Key: strings.Join(de.Key(), "."),
			Msg: decodeMessage(de.Error()), Err: err}
	}
	return &Error{Origin: path, Msg: strings.TrimPrefix(err.Error(), "toml: "), Err: err}
}

var typeMismatch = regexp.MustCompile(`cannot decode TOML (\w+) into .* of type (\S+)$`)

// decodeMessage rewrites go-toml's messages, which name Go types, in the operator's
// terms.
func decodeMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "toml: ")
	m := typeMismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{
		"int": "an integer", "*int": "an integer", "string": "a string", "*string": "a string",
		"float64": "a number", "*float64": "a number", "[]string": "an array of strings",
		"*[]string": "an array of strings", "bool": "true or false", "*bool": "true or false",
	}[m[2]]
	if want == "" {
		want = m[2]
	}
	return fmt.Sprintf("wrong type: got a TOML %s, want %s", m[1], want)
}
