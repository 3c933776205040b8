package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// fileConfig mirrors the TOML layout. Pointer fields tell a key that is absent from
// one that is set to its zero value, so that sources are recorded exactly.
//
// go-toml/v2 is used rather than BurntSushi/toml because its strict mode rejects
// unknown keys with their line and column, and its decode errors carry positions, so
// every file error can point at the offending line.
type fileConfig struct {
	DatabasePath *string `toml:"database_path"`
	Server       struct {
		Bind                 *string  `toml:"bind"`
		Port                 *int     `toml:"port"`
		ShutdownTimeout      *float64 `toml:"shutdown_timeout"`
		AuthTokenFile        *string  `toml:"auth_token_file"`
		AllowUnauthenticated *bool    `toml:"allow_unauthenticated"`
	} `toml:"server"`
	Logging struct {
		Level   *string `toml:"level"`
		Format  *string `toml:"format"`
		Journal *string `toml:"journal"`
	} `toml:"logging"`
	Tools struct {
		FFprobe *string `toml:"ffprobe"`
	} `toml:"tools"`
	Jobs struct {
		Workers      *int     `toml:"workers"`
		ProbeTimeout *float64 `toml:"probe_timeout"`
		JobTimeout   *float64 `toml:"job_timeout"`
		MaxQueued    *int     `toml:"max_queued"`
	} `toml:"jobs"`
	Library struct {
		Roots      *[]string `toml:"roots"`
		Extensions *[]string `toml:"extensions"`
	} `toml:"library"`
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

	var fc fileConfig
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return fileError(path, err)
	}

	set := func(key string) { cfg.Sources[key] = SourceFile }
	if fc.DatabasePath != nil {
		cfg.DatabasePath = *fc.DatabasePath
		set("database_path")
	}
	if v := fc.Server.Bind; v != nil {
		cfg.Server.Bind = *v
		set("server.bind")
	}
	if v := fc.Server.Port; v != nil {
		cfg.Server.Port = *v
		set("server.port")
	}
	if v := fc.Server.ShutdownTimeout; v != nil {
		cfg.Server.ShutdownTimeout = secondsToDuration(*v)
		set("server.shutdown_timeout")
	}
	if v := fc.Server.AuthTokenFile; v != nil {
		cfg.Server.AuthTokenFile = *v
		set("server.auth_token_file")
	}
	if v := fc.Server.AllowUnauthenticated; v != nil {
		cfg.Server.AllowUnauthenticated = *v
		set("server.allow_unauthenticated")
	}
	if v := fc.Logging.Level; v != nil {
		cfg.Logging.Level = *v
		set("logging.level")
	}
	if v := fc.Logging.Format; v != nil {
		cfg.Logging.Format = *v
		set("logging.format")
	}
	if v := fc.Logging.Journal; v != nil {
		cfg.Logging.Journal = *v
		set("logging.journal")
	}
	if v := fc.Tools.FFprobe; v != nil {
		cfg.Tools.FFprobe = *v
		set("tools.ffprobe")
	}
	if v := fc.Jobs.Workers; v != nil {
		cfg.Jobs.Workers = *v
		set("jobs.workers")
	}
	if v := fc.Jobs.ProbeTimeout; v != nil {
		cfg.Jobs.ProbeTimeout = secondsToDuration(*v)
		set("jobs.probe_timeout")
	}
	if v := fc.Jobs.JobTimeout; v != nil {
		cfg.Jobs.JobTimeout = secondsToDuration(*v)
		set("jobs.job_timeout")
	}
	if v := fc.Jobs.MaxQueued; v != nil {
		cfg.Jobs.MaxQueued = *v
		set("jobs.max_queued")
	}
	if v := fc.Library.Roots; v != nil {
		cfg.Library.Roots = append([]string(nil), (*v)...)
		set("library.roots")
	}
	if v := fc.Library.Extensions; v != nil {
		cfg.Library.Extensions = append([]string(nil), (*v)...)
		set("library.extensions")
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
