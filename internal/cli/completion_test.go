package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// runRoot runs the root command in-process with args and returns its stdout, its
// stderr and the error Execute returned.
func runRoot(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := NewRoot(Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) (string, bool) { return "", false }})
	root.SetArgs(args)
	err := root.Execute()
	return stdout.String(), stderr.String(), err
}

// availableCommands lists every command a user can run, the root included, as
// their command paths ("vpo", "vpo serve", "vpo jobs list", ...).
func availableCommands(cmd *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{cmd}
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand() {
			out = append(out, availableCommands(c)...)
		}
	}
	return out
}

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		shell string
		want  []string // lines or fragments every script of that shell must have
	}{
		{
			name:  "bash registers __start_vpo for vpo",
			shell: "bash",
			want:  []string{"# bash completion V2 for vpo", "__start_vpo()", "complete -o default -F __start_vpo vpo"},
		},
		{
			name:  "zsh is a compdef file for vpo",
			shell: "zsh",
			want:  []string{"#compdef vpo", "compdef _vpo vpo", "_vpo()"},
		},
		{
			name:  "fish registers completions for the vpo command",
			shell: "fish",
			want:  []string{"# fish completion for vpo", "complete -c vpo "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, err := runRoot(t, "completion", tt.shell)
			if err != nil {
				t.Fatalf("vpo completion %s: %v", tt.shell, err)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want empty", stderr)
			}
			if len(stdout) < 1000 {
				t.Fatalf("script is %d bytes, want a full script:\n%s", len(stdout), stdout)
			}
			// Every script asks the binary itself for the candidates.
			for _, w := range append(tt.want, "__complete") {
				if !strings.Contains(stdout, w) {
					t.Errorf("script does not contain %q", w)
				}
			}
		})
	}
}

// TestCompletionCandidates checks what the scripts offer: they all call
// "vpo __complete ARGS... PARTIAL", so its answer is what a user sees on TAB.
func TestCompletionCandidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string // "candidate\tdescription" lines that must be offered
		not  []string // candidates that must not be offered
	}{
		{
			name: "top level offers every subcommand with its description",
			args: []string{""},
			want: []string{
				"serve\tRun the vpo daemon in the foreground",
				"scan\t", "inspect\t", "jobs\t", "files\t", "health\t",
				"completion\tPrint the shell completion script for bash, zsh or fish",
			},
			not: []string{"__complete"},
		},
		{
			name: "a prefix narrows the list",
			args: []string{"s"},
			want: []string{"serve\t", "scan\t"},
			not:  []string{"jobs", "inspect", "health"},
		},
		{
			name: "nested commands",
			args: []string{"jobs", ""},
			want: []string{"list\t", "show\t", "cancel\t"},
		},
		{
			name: "completion offers the three shells",
			args: []string{"completion", ""},
			want: []string{"bash", "zsh", "fish"},
		},
		{
			name: "flags of a subcommand",
			args: []string{"serve", "--"},
			want: []string{"--config\t", "--port\t", "--log-level\t"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runRoot(t, append([]string{cobra.ShellCompRequestCmd}, tt.args...)...)
			if err != nil {
				t.Fatalf("vpo __complete %q: %v", tt.args, err)
			}
			lines := strings.Split(stdout, "\n")
			has := func(prefix string) bool {
				for _, l := range lines {
					if strings.HasPrefix(l, prefix) {
						return true
					}
				}
				return false
			}
			for _, w := range tt.want {
				if !has(w) {
					t.Errorf("candidates do not include %q; got:\n%s", w, stdout)
				}
			}
			for _, n := range tt.not {
				if has(n) {
					t.Errorf("candidates include %q; got:\n%s", n, stdout)
				}
			}
		})
	}
}

func TestCompletionUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{
			name:    "no shell",
			args:    []string{"completion"},
			wantErr: `"vpo completion" needs one argument, the shell (bash, zsh, fish), got 0`,
		},
		{
			name:    "two shells",
			args:    []string{"completion", "bash", "zsh"},
			wantErr: `"vpo completion" needs one argument, the shell (bash, zsh, fish), got 2`,
		},
		{
			name:    "unknown shell",
			args:    []string{"completion", "powershell"},
			wantErr: `unknown shell "powershell" for "vpo completion": want one of bash, zsh, fish`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runRoot(t, tt.args...)
			if err == nil {
				t.Fatalf("vpo %s: no error, want %q", strings.Join(tt.args, " "), tt.wantErr)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("error = %q, want %q", got, tt.wantErr)
			}
			if code := ExitCode(err); code != ExitUsage {
				t.Errorf("exit code = %d, want %d", code, ExitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

// TestManPages generates the man pages the way scripts/genman (make man) does and
// checks there is one for every command, titled after it, with its summary and its
// flags.
func TestManPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := NewRoot(Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) (string, bool) { return "", false }})
	header := &doc.GenManHeader{Section: "1", Source: "vpo test", Manual: "vpo manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		t.Fatalf("GenManTree: %v", err)
	}
	cmds := availableCommands(root)
	if len(cmds) < 10 {
		t.Fatalf("only %d commands in the tree, want at least 10", len(cmds))
	}
	want := map[string]bool{}
	for _, c := range cmds {
		name := strings.ReplaceAll(c.CommandPath(), " ", "-")
		file := name + ".1"
		want[file] = true
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatalf("no man page for %q: %v", c.CommandPath(), err)
			}
			page := string(b)
			for _, w := range []string{
				`.TH "` + strings.ToUpper(name) + `" "1" `,
				`"vpo test" "vpo manual"`,
				".SH NAME\n" + name + " - " + c.Short + "\n",
				".SH SYNOPSIS",
			} {
				if !strings.Contains(page, w) {
					t.Errorf("%s does not contain %q:\n%s", file, w, page)
				}
			}
			c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(page, `\fB--`+f.Name+`\fP`) {
					t.Errorf("%s does not document --%s", file, f.Name)
				}
			})
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("unexpected page %s (hidden or help command?)", e.Name())
		}
	}
}
