package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// completionShells are the shells "vpo completion" writes a script for, in the
// order the help lists them.
var completionShells = []string{"bash", "zsh", "fish"}

// newCompletionCmd builds "vpo completion SHELL". It replaces cobra's default
// completion command (disabled in NewRoot) so that a wrong shell is a one-line
// usage error with exit 2 like every other command's, and so that only the shells
// the Debian package installs a script for are offered. The scripts themselves are
// cobra's generators; they complete by calling the hidden "vpo __complete", which
// cobra adds to every root command.
func newCompletionCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `Print a script that completes vpo's commands and flags in bash, zsh or fish.

The Debian package installs all three. To load it by hand:

  bash:  vpo completion bash > ~/.local/share/bash-completion/completions/vpo
         (needs the bash-completion package)
  zsh:   vpo completion zsh > "${fpath[1]}/_vpo"
         (compinit must be enabled in ~/.zshrc)
  fish:  vpo completion fish > ~/.config/fish/completions/vpo.fish

then start a new shell.`,
		ValidArgs: completionShells,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%q needs one argument, the shell (%s), got %d", cmd.CommandPath(), strings.Join(completionShells, ", "), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), env.Stdout
			switch args[0] {
			case "bash":
				// V2: the script bash-completion 2 (Debian 12's) loads on demand,
				// with descriptions shown when listing.
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return usagef("unknown shell %q for %q: want one of %s", args[0], cmd.CommandPath(), strings.Join(completionShells, ", "))
		},
	}
}
