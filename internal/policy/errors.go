package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem in a policy file, at a position and a key path.
type Error struct {
	// File is the policy's file name (as given to Load or Parse).
	File string
	// Line and Column are 1-based; 0 when unknown (a YAML syntax error has
	// a line and no column; a file too large has neither).
	Line, Column int
	// Path is the key path, e.g. "phases[1].keep_audio.minimum"; phases and
	// list entries are counted from 0. Empty for the document itself.
	Path string
	// Msg says what is wrong, e.g. "must be >= 1".
	Msg string
}

// Error returns "file:line:column: path: message" on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one policy file, in file order. Its Error
// is the first problem on one line, with a count of the others; range over
// it (after errors.As) to show them all.
type Errors []*Error

// Error returns the first error and how many more there are.
func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	default:
		return fmt.Sprintf("%s (and %d more)", es[0].Error(), len(es)-1)
	}
}
