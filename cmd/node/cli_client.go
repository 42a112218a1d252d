package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/tokenledger/tokenledger/client"
)

// cliTimeout bounds a client command that is not a stream or an import.
const cliTimeout = 2 * time.Minute

// addClientCommands adds the commands that call a node's API.
func addClientCommands(root *cobra.Command, g *globals) {
	root.AddCommand(
		partyCmd(g), keyCmd(g), instrumentCmd(g),
		mintCmd(g), burnCmd(g), transferCmd(g), dvpCmd(g),
		freezeCmd(g, client.TypeFreeze), freezeCmd(g, client.TypeUnfreeze),
		pauseCmd(g, client.TypePause), pauseCmd(g, client.TypeUnpause),
		holdingsCmd(g), captableCmd(g), controlBookCmd(g), journalCmd(g),
		classifyCmd(g), clusterCmd(g), importCmd(g), exportCmd(g),
	)
}

// call runs fn with the command's client under cliTimeout.
func call(cmd *cobra.Command, g *globals, fn func(ctx context.Context, c *client.Client) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), cliTimeout)
	defer cancel()
	return fn(ctx, c)
}

// submit sends ins (its id from --id, else a new one) and prints its outcome.
func submit(cmd *cobra.Command, g *globals, ins client.Instruction) error {
	if id, _ := cmd.Flags().GetString("id"); id != "" {
		ins.ID = id
	}
	if ins.ID == "" {
		ins.ID = newID()
	}
	return call(cmd, g, func(ctx context.Context, c *client.Client) error {
		o, err := c.Submit(ctx, ins)
		return g.outcome(cmd, o, err)
	})
}

// instructionCmd is a command that submits one instruction; it takes --id.
func instructionCmd(use, short string, args cobra.PositionalArgs, build func(cmd *cobra.Command, args []string) (client.Instruction, error), g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: args}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ins, err := build(cmd, args)
		if err != nil {
			return err
		}
		return submit(cmd, g, ins)
	}
	cmd.Flags().String("id", "", "instruction id (default: a new one); send the same id again to retry safely")
	return cmd
}

// parseAmount reads a plain decimal amount; the node checks its grammar
// and decimals again.
func parseAmount(s string) (*decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil || d.IsNegative() {
		return nil, fmt.Errorf("bad amount %q: want a plain decimal like 1250.5", s)
	}
	return &d, nil
}

// parseTime reads an RFC 3339 time or a date (midnight UTC); "" is nil.
func parseTime(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("bad time %q: want RFC 3339 or YYYY-MM-DD", s)
}

func partyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "party", Short: "Register, update and show parties"}
	var role, status, jurisdiction, kyc, custodian string
	add := instructionCmd("add ID --role ROLE", "Register a party (operator; a custodian for its investors)", cobra.ExactArgs(1),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			t, err := parseTime(kyc)
			return client.Instruction{Type: client.TypeRegisterParty, Party: &client.PartySpec{
				ID: args[0], Role: role, Status: status, Jurisdiction: jurisdiction, KYCExpiresAt: t, Custodian: custodian}}, err
		}, g)
	add.Flags().StringVar(&role, "role", "", "operator, issuer, custodian, investor, auditor or oracle")
	add.Flags().StringVar(&status, "status", "", "investor status: retail, accredited, qualified_purchaser, institutional")
	add.Flags().StringVar(&jurisdiction, "jurisdiction", "", "investor jurisdiction, e.g. US")
	add.Flags().StringVar(&kyc, "kyc-expires", "", "investor KYC expiry (RFC 3339 or YYYY-MM-DD)")
	add.Flags().StringVar(&custodian, "custodian", "", "investor's custodian")
	_ = add.MarkFlagRequired("role")

	var ustatus, ujur, ukyc string
	update := instructionCmd("update ID", "Update an investor's status, jurisdiction or KYC expiry", cobra.ExactArgs(1),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			t, err := parseTime(ukyc)
			return client.Instruction{Type: client.TypeUpdateParty, PartyID: args[0], Status: ustatus, Jurisdiction: ujur, KYCExpiresAt: t}, err
		}, g)
	update.Flags().StringVar(&ustatus, "status", "", "new status")
	update.Flags().StringVar(&ujur, "jurisdiction", "", "new jurisdiction")
	update.Flags().StringVar(&ukyc, "kyc-expires", "", "new KYC expiry")

	show := &cobra.Command{Use: "show ID", Short: "Show a party", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			p, err := c.Party(ctx, args[0])
			if err != nil {
				return err
			}
			return g.show(cmd, p, partyHeader, func() [][]string { return [][]string{partyRow(p)} })
		})
	}}
	list := &cobra.Command{Use: "list", Short: "List the parties the key may see", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			ps, err := c.Parties(ctx)
			if err != nil {
				return err
			}
			return g.show(cmd, ps, partyHeader, func() [][]string {
				rows := make([][]string, len(ps))
				for i, p := range ps {
					rows[i] = partyRow(p)
				}
				return rows
			})
		})
	}}
	cmd.AddCommand(add, update, show, list)
	return cmd
}

var partyHeader = []string{"ID", "ROLE", "STATUS", "JURISDICTION", "KYC EXPIRES", "CUSTODIAN", "FROZEN"}

func partyRow(p client.Party) []string {
	kyc := ""
	if p.KYCExpiresAt != nil {
		kyc = p.KYCExpiresAt.Format(time.DateOnly)
	}
	return []string{p.ID, p.Role, p.Status, p.Jurisdiction, kyc, p.Custodian, strconv.FormatBool(p.Frozen)}
}

func keyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Create, list and revoke API keys"}
	create := &cobra.Command{Use: "create PARTY", Short: "Make a key for a party (operator); the secret is shown once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, g, func(ctx context.Context, c *client.Client) error {
				k, err := c.CreateKey(ctx, args[0])
				if err != nil {
					return err
				}
				return g.show(cmd, k, []string{"PARTY", "KEY ID", "KEY"}, func() [][]string { return [][]string{{k.PartyID, k.KeyID, k.Key}} })
			})
		}}
	var party string
	list := &cobra.Command{Use: "list", Short: "List keys", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			ks, err := c.Keys(ctx, party)
			if err != nil {
				return err
			}
			return g.show(cmd, ks, []string{"PARTY", "KEY ID"}, func() [][]string {
				rows := make([][]string, len(ks))
				for i, k := range ks {
					rows[i] = []string{k.PartyID, k.KeyID}
				}
				return rows
			})
		})
	}}
	list.Flags().StringVar(&party, "party", "", "only this party's keys")
	revoke := &cobra.Command{Use: "revoke KEY_ID", Short: "Revoke a key", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error { return c.RevokeKey(ctx, args[0]) })
	}}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func instrumentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "instrument", Short: "Create, list and show instruments"}
	var spec client.InstrumentSpec
	var maxSupply, leverage, offering string
	create := instructionCmd("create SYMBOL --issuer ISSUER --regime REGIME", "Create an instrument (operator; an issuer for itself)", cobra.ExactArgs(1),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			s := spec
			s.Symbol = args[0]
			if s.Name == "" {
				s.Name = args[0]
			}
			var err error
			if maxSupply != "" {
				if s.MaxSupply, err = parseAmount(maxSupply); err != nil {
					return client.Instruction{}, err
				}
			}
			if s.Attributes.EmbeddedLeverage, err = parseAmount(leverage); err != nil {
				return client.Instruction{}, err
			}
			if s.OfferingDate, err = parseTime(offering); err != nil {
				return client.Instruction{}, err
			}
			return client.Instruction{Type: client.TypeCreateInstrument, Instrument: &s}, nil
		}, g)
	f := create.Flags()
	f.StringVar(&spec.Name, "name", "", "name (default: the symbol)")
	f.StringVar(&spec.Issuer, "issuer", "", "issuer party")
	f.Int32Var(&spec.Decimals, "decimals", 0, "decimal places of amounts")
	f.StringVar(&maxSupply, "max-supply", "", "authorized units (default: none)")
	f.StringVar(&spec.Regime, "regime", "", "regime, e.g. registered, reg_d_506c, unrestricted (RULES.md)")
	f.StringVar(&offering, "offering-date", "", "offering date, past for an existing security (default: now)")
	f.StringVar(&spec.Attributes.Underlying, "underlying", "enterprise_equity", "underlying attribute")
	f.StringVar(&spec.Attributes.Payoff, "payoff", "linear", "payoff attribute")
	f.StringVar(&leverage, "leverage", "1", "embedded leverage")
	f.IntVar(&spec.Attributes.ExpiryDays, "expiry-days", 0, "expiry in days (0: none)")
	f.StringVar(&spec.Attributes.EconomicPurpose, "purpose", "capital_formation", "economic purpose")
	_ = create.MarkFlagRequired("issuer")
	_ = create.MarkFlagRequired("regime")

	header := []string{"SYMBOL", "NAME", "ISSUER", "CLASS", "REGIME", "SUPPLY", "HOLDERS", "PAUSED"}
	row := func(in client.Instrument) []string {
		return []string{in.Symbol, in.Name, in.Issuer, in.Class, in.Regime, in.Supply.String(), strconv.Itoa(in.HolderCount), strconv.FormatBool(in.Paused)}
	}
	list := &cobra.Command{Use: "list", Short: "List instruments", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			ins, err := c.Instruments(ctx)
			if err != nil {
				return err
			}
			return g.show(cmd, ins, header, func() [][]string {
				rows := make([][]string, len(ins))
				for i, in := range ins {
					rows[i] = row(in)
				}
				return rows
			})
		})
	}}
	show := &cobra.Command{Use: "show SYMBOL", Short: "Show an instrument", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			in, err := c.Instrument(ctx, args[0])
			if err != nil {
				return err
			}
			return g.show(cmd, in, header, func() [][]string { return [][]string{row(in)} })
		})
	}}
	cmd.AddCommand(create, list, show)
	return cmd
}

func mintCmd(g *globals) *cobra.Command {
	var acquired string
	var imp bool
	cmd := instructionCmd("mint SYMBOL TO AMOUNT", "Issue units to a holder (operator; the issuer)", cobra.ExactArgs(3),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			amt, err := parseAmount(args[2])
			if err != nil {
				return client.Instruction{}, err
			}
			at, err := parseTime(acquired)
			return client.Instruction{Type: client.TypeMint, Symbol: args[0], To: args[1], Amount: amt, AcquiredAt: at, Import: imp}, err
		}, g)
	cmd.Flags().StringVar(&acquired, "acquired-at", "", "acquisition date of an existing holding (past)")
	cmd.Flags().BoolVar(&imp, "import", false, "bring an existing register in (operator, with --acquired-at)")
	return cmd
}

func burnCmd(g *globals) *cobra.Command {
	var legal string
	cmd := instructionCmd("burn SYMBOL FROM AMOUNT", "Cancel units (operator; the issuer)", cobra.ExactArgs(3),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			amt, err := parseAmount(args[2])
			return client.Instruction{Type: client.TypeBurn, Symbol: args[0], From: args[1], Amount: amt, LegalReference: legal}, err
		}, g)
	cmd.Flags().StringVar(&legal, "legal-reference", "", "legal reference, for units held by others than the issuer")
	return cmd
}

func transferCmd(g *globals) *cobra.Command {
	return instructionCmd("transfer SYMBOL FROM TO AMOUNT", "Move units between holders", cobra.ExactArgs(4),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			amt, err := parseAmount(args[3])
			if err != nil {
				return client.Instruction{}, err
			}
			return client.Instruction{Type: client.TypeTransfer, Legs: []client.Leg{{Symbol: args[0], From: args[1], To: args[2], Amount: *amt}}}, nil
		}, g)
}

func dvpCmd(g *globals) *cobra.Command {
	return instructionCmd("dvp SYMBOL:FROM:TO:AMOUNT SYMBOL:FROM:TO:AMOUNT...", "Delivery versus payment: every leg or none", cobra.MinimumNArgs(2),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			ins := client.Instruction{Type: client.TypeTransfer}
			for _, a := range args {
				p := strings.Split(a, ":")
				if len(p) != 4 {
					return ins, fmt.Errorf("leg %q: want SYMBOL:FROM:TO:AMOUNT", a)
				}
				amt, err := parseAmount(p[3])
				if err != nil {
					return ins, err
				}
				ins.Legs = append(ins.Legs, client.Leg{Symbol: p[0], From: p[1], To: p[2], Amount: *amt})
			}
			return ins, nil
		}, g)
}

func freezeCmd(g *globals, typ string) *cobra.Command {
	var symbol, amount string
	cmd := instructionCmd(typ+" PARTY", strings.ToUpper(typ[:1])+typ[1:]+" a party, or a symbol or amount of its holding", cobra.ExactArgs(1),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			ins := client.Instruction{Type: typ, PartyID: args[0], Symbol: symbol}
			if amount != "" {
				var err error
				if ins.Amount, err = parseAmount(amount); err != nil {
					return ins, err
				}
			}
			return ins, nil
		}, g)
	cmd.Flags().StringVar(&symbol, "symbol", "", "only this symbol")
	cmd.Flags().StringVar(&amount, "amount", "", "only this amount of the symbol")
	return cmd
}

func pauseCmd(g *globals, typ string) *cobra.Command {
	return instructionCmd(typ+" SYMBOL", strings.ToUpper(typ[:1])+typ[1:]+" an instrument (operator; the issuer)", cobra.ExactArgs(1),
		func(_ *cobra.Command, args []string) (client.Instruction, error) {
			return client.Instruction{Type: typ, Symbol: args[0]}, nil
		}, g)
}

func holdingsCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "holdings PARTY", Short: "A party's holdings, loan and equity", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			h, err := c.Holdings(ctx, args[0])
			if err != nil {
				return err
			}
			return g.show(cmd, h, []string{"SYMBOL", "BALANCE", "FROZEN", "LOCKED"}, func() [][]string {
				rows := make([][]string, len(h.Holdings))
				for i, l := range h.Holdings {
					rows[i] = []string{l.Symbol, l.Balance.String(), l.Frozen.String(), l.Locked.String()}
				}
				return rows
			})
		})
	}}
}

func captableCmd(g *globals) *cobra.Command {
	var at uint64
	cmd := &cobra.Command{Use: "captable SYMBOL", Short: "The cap table now, or --at a journal seq (a record date)", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			seq, hs, err := c.CapTable(ctx, args[0], at)
			if err != nil {
				return err
			}
			body := map[string]any{"symbol": args[0], "seq": seq, "holders": hs}
			return g.show(cmd, body, []string{"PARTY", "BALANCE"}, func() [][]string {
				rows := make([][]string, len(hs))
				for i, h := range hs {
					rows[i] = []string{h.Party, h.Balance.String()}
				}
				return rows
			})
		})
	}}
	cmd.Flags().Uint64Var(&at, "at", 0, "journal seq to read the table at (default: now)")
	return cmd
}

func controlBookCmd(g *globals) *cobra.Command {
	var at uint64
	cmd := &cobra.Command{Use: "control-book SYMBOL", Short: "A transfer agent's control book of an instrument (where the node serves it)", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			path := "/v1/instruments/" + args[0] + "/control-book"
			if at > 0 {
				path += "?at=" + strconv.FormatUint(at, 10)
			}
			var body map[string]any
			if err := c.Get(ctx, path, &body); err != nil {
				return err
			}
			return g.show(cmd, body, []string{"FIELD", "VALUE"}, func() [][]string { return mapRows(body) })
		})
	}}
	cmd.Flags().Uint64Var(&at, "at", 0, "journal seq (default: now)")
	return cmd
}

// mapRows lists a JSON object's fields in the order of keys, sorted.
func mapRows(m map[string]any) [][]string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k, fmt.Sprint(m[k])}
	}
	return rows
}

func journalCmd(g *globals) *cobra.Command {
	var f client.JournalFilter
	var follow bool
	cmd := &cobra.Command{Use: "journal", Short: "Read the journal, or --follow it live", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		c, err := g.client()
		if err != nil {
			return err
		}
		entries := c.Journal(cmd.Context(), f)
		if follow {
			entries = c.Follow(cmd.Context(), f)
		}
		out := cmd.OutOrStdout()
		if !g.json {
			fmt.Fprintf(out, "%-8s %-20s %-12s %-9s %s\n", "SEQ", "TIME", "ACTOR", "STATUS", "INSTRUCTION")
		}
		for e, err := range entries {
			if err != nil {
				return err
			}
			if g.json {
				if err := printJSONLine(out, e); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(out, "%-8d %-20s %-12s %-9s %s\n", e.Seq, e.Time.Format("2006-01-02T15:04:05Z"), e.Actor, e.Status, e.Instruction)
		}
		return nil
	}}
	cmd.Flags().Uint64Var(&f.After, "after", 0, "entries after this seq")
	cmd.Flags().StringVar(&f.Party, "party", "", "entries naming this party")
	cmd.Flags().StringVar(&f.Symbol, "symbol", "", "entries naming this symbol")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep streaming new entries (until interrupted)")
	return cmd
}

func classifyCmd(g *globals) *cobra.Command {
	var a client.Attributes
	var leverage string
	cmd := &cobra.Command{Use: "classify", Short: "Classify a product by its attributes", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		var err error
		if a.EmbeddedLeverage, err = parseAmount(leverage); err != nil {
			return err
		}
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			cl, err := c.Classify(ctx, a)
			if err != nil {
				return err
			}
			return g.show(cmd, cl, []string{"CLASS", "REGULATOR", "CATEGORY", "ALLOWED"}, func() [][]string {
				return [][]string{{cl.Class, cl.Regulator, cl.Category, strconv.FormatBool(cl.Allowed)}}
			})
		})
	}}
	f := cmd.Flags()
	f.StringVar(&a.Underlying, "underlying", "enterprise_equity", "underlying")
	f.StringVar(&a.Payoff, "payoff", "linear", "payoff")
	f.StringVar(&leverage, "leverage", "1", "embedded leverage")
	f.IntVar(&a.ExpiryDays, "expiry-days", 0, "expiry in days")
	f.StringVar(&a.EconomicPurpose, "purpose", "capital_formation", "economic purpose")
	f.StringVar(&a.EventTopic, "event-topic", "", "event topic, for event contracts")
	return cmd
}

func clusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Cluster status and membership"}
	status := &cobra.Command{Use: "status", Short: "The cluster as a node sees it", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			st, err := c.Cluster(ctx)
			if err != nil {
				return err
			}
			return g.show(cmd, st, []string{"ID", "STATE", "VOTER", "RAFT", "API", "LEADER"}, func() [][]string {
				rows := make([][]string, len(st.Nodes))
				for i, n := range st.Nodes {
					rows[i] = []string{n.ID, n.State, strconv.FormatBool(n.Voter), n.RaftAddr, n.APIAddr, strconv.FormatBool(n.ID == st.Leader)}
				}
				return rows
			})
		})
	}}
	add := &cobra.Command{Use: "add ID RAFT_ADDR API_ADDR", Short: "Add a node as a voter (operator)", Args: cobra.ExactArgs(3), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error {
			return c.AddNode(ctx, client.Node{ID: args[0], RaftAddr: args[1], APIAddr: args[2]})
		})
	}}
	remove := &cobra.Command{Use: "remove ID", Short: "Remove a node (operator); its id is never reused", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *client.Client) error { return c.RemoveNode(ctx, args[0]) })
	}}
	cmd.AddCommand(status, add, remove)
	return cmd
}
