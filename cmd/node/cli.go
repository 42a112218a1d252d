package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the client commands: a script tells an instruction a rule
// refused from a failure to ask at all.
const (
	exitAccepted = 0
	exitOther    = 1
	exitRejected = 3
)

// exitError carries an exit status to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// run parses args as `node` does and runs the command. With no command, or
// with flags first, it is `serve`, as before the command tree existed.
func run(ctx context.Context, args []string) error {
	return runWith(ctx, args, os.Stdout, os.Stderr)
}

// runWith is run writing to out and errOut, for tests.
func runWith(ctx context.Context, args []string, out, errOut io.Writer) error {
	root := newRootCmd(out, errOut)
	if servesByDefault(root, args) {
		return runServe(ctx, args)
	}
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// servesByDefault reports whether args are serve's flags alone: no
// arguments, or flags and no command name among them, as in
// `node --config cluster.yaml --id n1`.
func servesByDefault(root *cobra.Command, args []string) bool {
	if len(args) == 0 {
		return true
	}
	if !strings.HasPrefix(args[0], "-") {
		return false
	}
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			return false
		}
		for _, sub := range root.Commands() {
			if a == sub.Name() {
				return false
			}
		}
	}
	return true
}

// newRootCmd is the command tree: the node's own commands, whose flags
// their existing parsers keep, and the client commands by role.
func newRootCmd(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "node",
		Short: "A tokenledger node, and the command line of its users",
		Long: `node runs a tokenledger node (serve) and is the command line of its users:
issuers, custodians, transfer agents, auditors and operators call a running
node's API with the commands below.

The node's API is --url (or $TOKENLEDGER_URL; several, comma-separated, for a
cluster); the key is --key, $TOKENLEDGER_KEY or --key-file. Output is a table;
--json prints the API's JSON for scripts. Exit status: 0 accepted, 3 rejected
by a rule, 1 any other error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	g := &globals{}
	g.register(root)

	// The node's own commands keep their flag parsers: their flags and
	// their tests stay as they were.
	root.AddCommand(
		passthrough("serve", "Run a node (the default command)", func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), args)
		}),
		passthrough("certs", "Write a dev CA and node and API certificates", func(_ *cobra.Command, args []string) error {
			return runCerts(args)
		}),
		passthrough("bench", "Load a running cluster through its API", func(cmd *cobra.Command, args []string) error {
			return runBench(cmd.Context(), args)
		}),
		passthrough("migrate-log", "Move a stopped node's raft log into a WAL", func(cmd *cobra.Command, args []string) error {
			return runMigrateLog(cmd.Context(), args)
		}),
		verifyCmd(g),
		rulebookCmd(g),
	)
	addClientCommands(root, g)
	return root
}

// passthrough is a command whose arguments, flags included, go to run
// unparsed; --help reaches run's flag set, which prints its flags.
func passthrough(name, short string, run func(*cobra.Command, []string) error) *cobra.Command {
	return &cobra.Command{
		Use:                name + " [flags]",
		Short:              short,
		DisableFlagParsing: true,
		RunE:               run,
	}
}
