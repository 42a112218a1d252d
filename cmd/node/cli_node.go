package main

import (
	"context"
	"encoding/json"

	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/tokenledger/tokenledger/client"
)

// verifyCmd is the offline proof check (flags as before) with two online
// subcommands: the node walking its chain, and an entry's inclusion proof.
func verifyCmd(g *globals) *cobra.Command {
	cmd := passthrough("verify", "Check a journal entry or checkpoint offline; chain and proof ask a node", func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return cmd.Help()
		}
		return runVerify(args, cmd.OutOrStdout())
	})
	cmd.Long = `verify --entry E --proof P --checkpoint C --key K
    checks offline that a journal entry is in a signed checkpoint;
verify --consistency P --old C1 --new C2 --key K
    checks offline that a signed checkpoint extends an earlier one;
verify chain
    asks the node to walk its journal's hash chain (operator, auditor);
verify proof SEQ
    fetches the inclusion proof of entry SEQ and the current checkpoint.`
	chain := &cobra.Command{Use: "chain", Short: "The node walks its journal's hash chain", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			v, err := c.VerifyJournal(ctx)
			if err != nil {
				return err
			}
			if err := g.show(cmd, v, []string{"OK", "LENGTH", "HEAD"}, func() [][]string {
				return [][]string{{fmt.Sprint(v.OK), fmt.Sprint(v.Length), v.Head}}
			}); err != nil {
				return err
			}
			if !v.OK {
				return fmt.Errorf("journal chain broken at seq %d: %s", v.FirstBad, v.Message)
			}
			return nil
		})
	}}
	proof := &cobra.Command{Use: "proof SEQ", Short: "Fetch entry SEQ's inclusion proof and the checkpoint it is against", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		var seq uint64
		if _, err := fmt.Sscan(args[0], &seq); err != nil {
			return fmt.Errorf("bad seq %q", args[0])
		}
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			cp, err := c.Checkpoint(ctx)
			if err != nil {
				return err
			}
			p, err := c.InclusionProof(ctx, seq, cp.Size)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), map[string]any{"checkpoint": cp, "proof": p})
		})
	}}
	cmd.AddCommand(chain, proof)
	return cmd
}

// rulebookCmd: show and set ask a node; lint keeps its flags.
func rulebookCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "rulebook", Short: "Show, lint and set the rulebook"}
	lint := passthrough("lint", "Conflicts and gaps of a rulebook, and what it would put out of compliance (--impact)", func(cmd *cobra.Command, args []string) error {
		if slices.Contains(args, "--help") || slices.Contains(args, "-h") {
			fmt.Fprintln(cmd.OutOrStdout(), lintUsage)
			return nil
		}
		return lintRulebook(cmd.Context(), cmd.OutOrStdout(), append([]string{"lint"}, args...))
	})
	lint.Use = "lint [--strict] [--impact --url URL --key KEY] [FILE]"
	show := &cobra.Command{Use: "show", Short: "The rulebook in force (YAML) and its version", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			rb, err := c.Rulebook(ctx)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), rb)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# version %s\n%s", rb.Version, rb.YAML)
			return nil
		})
	}}
	var effective string
	set := instructionCmd("set FILE", "Put a rulebook in force, now or --effective-at (operator)", cobra.ExactArgs(1),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			text, err := os.ReadFile(args[0])
			if err != nil {
				return client.Instruction{}, err
			}
			at, err := parseTime(effective)
			return client.Instruction{Type: client.TypeSetRulebook, Rulebook: string(text), EffectiveAt: at}, err
		}, g)
	set.Flags().StringVar(&effective, "effective-at", "", "when it takes force (default: at once)")
	cmd.AddCommand(show, lint, set)
	return cmd
}

// printJSONLine writes v as one line of JSON (JSON Lines).
func printJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func sortStrings(s []string) { slices.Sort(s) }
