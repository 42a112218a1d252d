package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenledger/tokenledger/client"
)

// journalCSVHeader is the header of `export journal --format csv`.
var journalCSVHeader = []string{"seq", "index", "time", "actor", "status", "reason", "instruction", "prev_hash", "hash"}

func exportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Take a cap table or the journal out, page by page (CSV, OCF, JSON Lines)"}
	var at uint64
	var format, out string
	capTable := &cobra.Command{
		Use:   "captable SYMBOL",
		Short: "A cap table at a journal seq (default now) as CSV (the import header) or OCF",
		Long: `export captable writes the cap table of SYMBOL as it stood just after journal
entry --at (default: now), read page by page at that one seq. CSV has the
import header; acquired_at is left empty, since a cap table records balances,
not acquisition dates. --format ocf writes stakeholders.ocf.json,
stock_classes.ocf.json and transactions.ocf.json (one stock issuance per
holder, dated the instrument's offering date) into the directory --out.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			switch format {
			case "csv":
				w, closeOut, err := openOut(cmd, out)
				if err != nil {
					return err
				}
				defer closeOut()
				return exportCapTableCSV(cmd.Context(), c, args[0], at, w)
			case "ocf":
				if out == "" {
					return fmt.Errorf("--format ocf needs --out DIR")
				}
				return exportCapTableOCF(cmd.Context(), c, args[0], at, out)
			}
			return fmt.Errorf("--format %q: want csv or ocf", format)
		},
	}
	capTable.Flags().Uint64Var(&at, "at", 0, "journal seq (default: now)")
	capTable.Flags().StringVar(&format, "format", "csv", "csv or ocf")
	capTable.Flags().StringVar(&out, "out", "", "output file (csv; default stdout) or directory (ocf)")

	var f client.JournalFilter
	var jformat, jout string
	journal := &cobra.Command{
		Use:   "journal",
		Short: "The journal entries the key may read, as JSON Lines or CSV",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			w, closeOut, err := openOut(cmd, jout)
			if err != nil {
				return err
			}
			defer closeOut()
			return exportJournal(cmd.Context(), c, f, jformat, w)
		},
	}
	journal.Flags().Uint64Var(&f.After, "after", 0, "entries after this seq")
	journal.Flags().StringVar(&f.Party, "party", "", "entries naming this party")
	journal.Flags().StringVar(&f.Symbol, "symbol", "", "entries naming this symbol")
	journal.Flags().StringVar(&jformat, "format", "jsonl", "jsonl or csv")
	journal.Flags().StringVar(&jout, "out", "", "output file (default stdout)")
	cmd.AddCommand(capTable, journal)
	return cmd
}

// openOut opens path for writing, or the command's stdout for "".
func openOut(cmd *cobra.Command, path string) (io.Writer, func(), error) {
	if path == "" {
		return cmd.OutOrStdout(), func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// exportCapTableCSV writes one row per holder, with the party's details.
func exportCapTableCSV(ctx context.Context, c *client.Client, symbol string, at uint64, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	seq, err := pinSeq(ctx, c, symbol, at)
	if err != nil {
		return err
	}
	for h, err := range c.Holders(ctx, symbol, seq) {
		if err != nil {
			return err
		}
		p, err := c.Party(ctx, h.Party)
		if err != nil {
			return fmt.Errorf("party %s: %w", h.Party, err)
		}
		kyc := ""
		if p.KYCExpiresAt != nil {
			kyc = p.KYCExpiresAt.Format(time.RFC3339)
		}
		if err := cw.Write([]string{p.ID, p.Role, p.Status, p.Jurisdiction, kyc, p.Custodian, symbol, h.Balance.String(), ""}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// pinSeq is at, or the seq of the cap table now, so every page of an
// export reads the same record date.
func pinSeq(ctx context.Context, c *client.Client, symbol string, at uint64) (uint64, error) {
	if at > 0 {
		return at, nil
	}
	var page struct {
		Seq uint64 `json:"seq"`
	}
	if err := c.Get(ctx, "/v1/instruments/"+symbol+"/holders?limit=1", &page); err != nil {
		return 0, err
	}
	return page.Seq, nil
}

// jsonItems writes an OCF file's items one by one, never holding them all.
type jsonItems struct {
	f     *os.File
	first bool
}

func newJSONItems(path, fileType string) (*jsonItems, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(f, "{\"file_type\":%q,\"items\":[\n", fileType); err != nil {
		f.Close()
		return nil, err
	}
	return &jsonItems{f: f, first: true}, nil
}

func (j *jsonItems) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sep := ",\n"
	if j.first {
		sep, j.first = "", false
	}
	_, err = fmt.Fprintf(j.f, "%s%s", sep, b)
	return err
}

func (j *jsonItems) close() error {
	if _, err := fmt.Fprint(j.f, "\n]}\n"); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}

// exportCapTableOCF writes the three OCF files of a cap table into dir.
func exportCapTableOCF(ctx context.Context, c *client.Client, symbol string, at uint64, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	in, err := c.Instrument(ctx, symbol)
	if err != nil {
		return err
	}
	classes, err := newJSONItems(filepath.Join(dir, "stock_classes.ocf.json"), "OCF_STOCK_CLASSES_FILE")
	if err != nil {
		return err
	}
	if err := classes.add(map[string]any{"object_type": ocfStockClass, "id": symbol, "name": in.Name, "class_type": "COMMON",
		"default_id_prefix": symbol + "-", "initial_shares_authorized": authorized(in), "votes_per_share": "1", "seniority": "1"}); err != nil {
		return err
	}
	if err := classes.close(); err != nil {
		return err
	}
	holders, err := newJSONItems(filepath.Join(dir, "stakeholders.ocf.json"), "OCF_STAKEHOLDERS_FILE")
	if err != nil {
		return err
	}
	txs, err := newJSONItems(filepath.Join(dir, "transactions.ocf.json"), "OCF_TRANSACTIONS_FILE")
	if err != nil {
		holders.close()
		return err
	}
	seq, err := pinSeq(ctx, c, symbol, at)
	if err == nil {
		for h, herr := range c.Holders(ctx, symbol, seq) {
			if err = herr; err != nil {
				break
			}
			p, perr := c.Party(ctx, h.Party)
			if err = perr; err != nil {
				break
			}
			sh := map[string]any{"object_type": ocfStakeholder, "id": p.ID, "name": map[string]string{"legal_name": p.ID}, "stakeholder_type": stakeholderType(p)}
			if p.Jurisdiction != "" {
				sh["addresses"] = []map[string]string{{"address_type": "LEGAL", "country": p.Jurisdiction}}
			}
			if err = holders.add(sh); err != nil {
				break
			}
			if err = txs.add(map[string]any{"object_type": ocfStockIssuance, "id": symbol + "-" + p.ID + "-" + strconv.FormatUint(seq, 10),
				"security_id": symbol + "-" + p.ID, "custom_id": symbol + "-" + p.ID, "date": in.OfferingDate.Format(time.DateOnly),
				"stakeholder_id": p.ID, "stock_class_id": symbol, "quantity": h.Balance.String(),
				"share_price": map[string]string{"amount": "0", "currency": "USD"}, "security_law_exemptions": []any{}}); err != nil {
				break
			}
		}
	}
	cerr1, cerr2 := holders.close(), txs.close()
	for _, e := range []error{err, cerr1, cerr2} {
		if e != nil {
			return e
		}
	}
	return nil
}

func authorized(in client.Instrument) string {
	if in.MaxSupply != nil {
		return in.MaxSupply.String()
	}
	return "UNLIMITED"
}

func stakeholderType(p client.Party) string {
	if p.Role == "investor" && p.Status == "retail" {
		return "INDIVIDUAL"
	}
	return "INSTITUTION"
}

// exportJournal writes the entries page by page.
func exportJournal(ctx context.Context, c *client.Client, f client.JournalFilter, format string, w io.Writer) error {
	var cw *csv.Writer
	switch format {
	case "jsonl":
	case "csv":
		cw = csv.NewWriter(w)
		if err := cw.Write(journalCSVHeader); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--format %q: want jsonl or csv", format)
	}
	for e, err := range c.Journal(ctx, f) {
		if err != nil {
			return err
		}
		if cw == nil {
			if err := printJSONLine(w, e); err != nil {
				return err
			}
			continue
		}
		reason := ""
		if e.Reason != nil {
			reason = string(e.Reason.Code)
		}
		if err := cw.Write([]string{strconv.FormatUint(e.Seq, 10), strconv.FormatUint(e.Index, 10), e.Time.Format(time.RFC3339Nano),
			e.Actor, e.Status, reason, string(e.Instruction), e.PrevHash, e.Hash}); err != nil {
			return err
		}
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	return nil
}
