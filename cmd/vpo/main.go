// Command vpo is the Video Policy Orchestrator: see "vpo --help".
package main

import (
	"fmt"
	"os"

	"github.com/vpo-project/vpo/internal/cli"
)

func main() {
	os.Exit(run())
}

func run() int {
	cli.EnsureStdio()
	root := cli.NewRoot(cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.LookupEnv})
	err := root.Execute()
	if err != nil && !cli.Reported(err) {
		fmt.Fprintf(os.Stderr, "vpo: %s\n", err)
	}
	return cli.ExitCode(err)
}
