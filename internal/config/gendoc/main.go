// Command gendoc rewrites the settings table of docs/operations.md from the table in
// internal/config: go generate ./internal/config.
package main

import (
	"fmt"
	"os"

	"github.com/vpo-project/vpo/internal/config"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendoc FILE.md")
		os.Exit(2)
	}
	path := os.Args[1]
	doc, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
	out, err := config.ReplaceDocTable(string(doc))
	if err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %s: %v\n", path, err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
