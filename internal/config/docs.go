package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

//go:generate go run ./gendoc ../../docs/operations.md

// The markers around the generated settings table in docs/operations.md.
const (
	DocTableBegin = "<!-- BEGIN settings table: generated from internal/config/settings.go by `go generate ./internal/config`; do not edit -->"
	DocTableEnd   = "<!-- END settings table -->"
)

// kindDoc names each kind in the documentation.
var kindDoc = map[Kind]string{
	KindString:  "string",
	KindInt:     "integer",
	KindPort:    "port",
	KindSeconds: "seconds",
	KindBool:    "bool",
	KindEnum:    "enum",
	KindList:    "list of strings",
	KindPath:    "path",
	KindProgram: "program",
	KindRoots:   "list of paths or tables",
}

// DocTable renders the table of settings as the Markdown table of
// docs/operations.md.
func DocTable() string {
	var b strings.Builder
	b.WriteString("| setting | environment | flag | kind | default | allowed | secret | description |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	row("config file", code(ConfigPathEnv), "`-c`, `--config`", kindDoc[KindPath], "`~/.vpo/config.toml`", "", "",
		"the TOML file to read; one named by flag or variable must exist")
	for _, s := range specs {
		key := code(s.Key)
		if s.NotInFile {
			key += " (environment only)"
		}
		var flag string
		if s.Short != "" {
			flag = code("-"+s.Short) + ", "
		}
		if s.Flag != "" {
			flag += code("--" + s.Flag)
		}
		secret := ""
		if s.Secret {
			secret = "yes"
		}
		row(key, code(s.Env), flag, kindDoc[s.Kind], s.defaultDoc(), s.allowedDoc(), secret, s.Doc)
	}
	return b.String()
}

// ReplaceDocTable returns doc with the text between the settings table's markers
// replaced by DocTable.
func ReplaceDocTable(doc string) (string, error) {
	before, rest, ok := strings.Cut(doc, DocTableBegin+"\n")
	if !ok {
		return "", errors.New("no line " + DocTableBegin)
	}
	_, after, ok := strings.Cut(rest, DocTableEnd)
	if !ok {
		return "", errors.New("no line " + DocTableEnd + " after the table")
	}
	return before + DocTableBegin + "\n" + DocTable() + DocTableEnd + after, nil
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func (s *Spec) defaultDoc() string {
	if s.DefaultDoc != "" {
		return s.DefaultDoc
	}
	switch v := s.Default.(type) {
	case nil:
		if s.Kind == KindList || s.Kind == KindRoots {
			return "empty"
		}
		return "none"
	case string:
		return code(strconv.Quote(v))
	case time.Duration:
		return code(strconv.FormatFloat(v.Seconds(), 'g', -1, 64))
	case []string:
		q := make([]string, len(v))
		for i, e := range v {
			q[i] = strconv.Quote(e)
		}
		return code("[" + strings.Join(q, ", ") + "]")
	default:
		return code(s.DefaultText())
	}
}

func (s *Spec) allowedDoc() string {
	switch {
	case s.Kind == KindEnum:
		q := make([]string, len(s.Allowed))
		for i, a := range s.Allowed {
			q[i] = code(a)
		}
		return strings.Join(q, ", ")
	case s.bounded():
		return s.rangeText()
	}
	return ""
}
