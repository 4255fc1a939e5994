package cli

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ynhd/ynhd/internal/decl"
)

// completeApps completes APP arguments with the apps declared in the
// directory the command's flags select (--dir, --system). n is how many
// leading arguments are apps (-1: all); after them, and when nothing is
// declared, completion falls back to other.
func completeApps(e *env, c *commonFlags, n int, other cobra.ShellCompDirective) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if n >= 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		files, err := decl.DeclarationFiles(c.declDir(*e))
		if err != nil {
			return nil, other
		}
		var apps []string
		for _, f := range files {
			if a := decl.AppName(f); strings.HasPrefix(a, toComplete) && !contains(args, a) {
				apps = append(apps, a)
			}
		}
		if len(apps) == 0 {
			return nil, other
		}
		return apps, cobra.ShellCompDirectiveNoFileComp
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quote quotes a word of the command line for a message.
func quote(s string) string { return strconv.Quote(s) }
