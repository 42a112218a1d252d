package main

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/tokenledger/tokenledger/client"
)

// csvHeader is the header of an import file, in this order (README,
// "Register migration"). It is also the header `export captable` writes.
var csvHeader = []string{"holder_id", "role", "status", "jurisdiction", "kyc_expires_at", "custodian", "symbol", "amount", "acquired_at"}

// Import limits.
const (
	// importBatch is the most instructions one batch request carries: the
	// API's MaxBatchInstructions.
	importBatch = client.MaxBatch
	// maxRowErrors bounds the bad rows listed; the count is always given.
	maxRowErrors = 1000
	// importIDHash is how many hex digits of the file's sha256 an id
	// carries: 64 bits, so two different files' ids do not meet.
	importIDHash = 16
)

// The grammars of API.md, checked before anything is sent.
var (
	validID     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	validSymbol = regexp.MustCompile(`^[A-Z0-9][A-Z0-9.-]{0,31}$`)
	plainAmount = regexp.MustCompile(`^(0|[1-9][0-9]{0,30})(\.[0-9]{1,18})?$`)
	validRoles  = map[string]bool{"investor": true, "issuer": true, "custodian": true, "operator": true, "auditor": true, "oracle": true}
	validStatus = map[string]bool{"retail": true, "accredited": true, "qualified_purchaser": true, "institutional": true}
)

// importRow is one holding to bring in: its holder and the mint.
type importRow struct {
	line         int
	holder       string
	role         string
	status       string
	jurisdiction string
	kycExpires   *time.Time
	custodian    string
	symbol       string
	amount       decimal.Decimal
	acquiredAt   time.Time
}

// rowError is a bad row of the file.
type rowError struct {
	line int
	msg  string
}

// parseCSV reads and checks every row of an import file; it returns the
// good rows and every bad one, so a user fixes all at once.
func parseCSV(r io.Reader, now time.Time) ([]importRow, []rowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	if strings.Join(head, ",") != strings.Join(csvHeader, ",") {
		return nil, []rowError{{1, "header must be " + strings.Join(csvHeader, ",")}}, nil
	}
	var rows []importRow
	var bad []rowError
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, rowError{pe.Line, pe.Err.Error()})
				continue
			}
			return nil, nil, err
		}
		// FieldPos is valid only after a record was read.
		line, _ := cr.FieldPos(0)
		if len(rec) != len(csvHeader) {
			bad = append(bad, rowError{line, fmt.Sprintf("%d fields, want %d", len(rec), len(csvHeader))})
			continue
		}
		row, msgs := checkRow(rec, now)
		row.line = line
		for _, m := range msgs {
			bad = append(bad, rowError{line, m})
		}
		if len(msgs) == 0 {
			rows = append(rows, row)
		}
	}
	bad = append(bad, checkHolders(rows)...)
	return rows, bad, nil
}

// checkRow checks one record's fields; every problem is listed.
func checkRow(rec []string, now time.Time) (importRow, []string) {
	var msgs []string
	row := importRow{holder: rec[0], role: rec[1], status: rec[2], jurisdiction: rec[3], custodian: rec[5], symbol: rec[6]}
	if !validID.MatchString(row.holder) {
		msgs = append(msgs, fmt.Sprintf("holder_id %q must match [A-Za-z0-9._:-]{1,128}", row.holder))
	}
	if !validRoles[row.role] {
		msgs = append(msgs, fmt.Sprintf("role %q is not a role", row.role))
	}
	if row.role == "investor" {
		if !validStatus[row.status] {
			msgs = append(msgs, fmt.Sprintf("status %q must be retail, accredited, qualified_purchaser or institutional", row.status))
		}
		if row.jurisdiction == "" {
			msgs = append(msgs, "jurisdiction is required for an investor")
		}
		if rec[4] == "" {
			msgs = append(msgs, "kyc_expires_at is required for an investor")
		}
		if row.custodian == "" {
			msgs = append(msgs, "custodian is required for an investor")
		}
	}
	if rec[4] != "" {
		t, err := parseTime(rec[4])
		if err != nil {
			msgs = append(msgs, "kyc_expires_at: "+err.Error())
		}
		row.kycExpires = t
	}
	if row.custodian != "" && !validID.MatchString(row.custodian) {
		msgs = append(msgs, fmt.Sprintf("custodian %q must match [A-Za-z0-9._:-]{1,128}", row.custodian))
	}
	if !validSymbol.MatchString(row.symbol) {
		msgs = append(msgs, fmt.Sprintf("symbol %q must match [A-Z0-9][A-Z0-9.-]{0,31}", row.symbol))
	}
	if !plainAmount.MatchString(rec[7]) {
		msgs = append(msgs, fmt.Sprintf("amount %q must be a plain decimal", rec[7]))
	} else if row.amount = decimal.RequireFromString(rec[7]); row.amount.IsZero() {
		msgs = append(msgs, "amount must be positive")
	}
	switch at, err := parseTime(rec[8]); {
	case rec[8] == "":
		msgs = append(msgs, "acquired_at is required")
	case err != nil:
		msgs = append(msgs, "acquired_at: "+err.Error())
	case at.After(now):
		msgs = append(msgs, "acquired_at is in the future")
	default:
		row.acquiredAt = *at
	}
	return row, msgs
}

// checkHolders reports a holder whose rows disagree on who the holder is:
// the first row registers the party, so a later row that says otherwise
// would be silently ignored.
func checkHolders(rows []importRow) []rowError {
	first := map[string]importRow{}
	var bad []rowError
	for _, r := range rows {
		f, seen := first[r.holder]
		if !seen {
			first[r.holder] = r
			continue
		}
		if f.role != r.role || f.status != r.status || f.jurisdiction != r.jurisdiction || f.custodian != r.custodian || !sameTime(f.kycExpires, r.kycExpires) {
			bad = append(bad, rowError{r.line, fmt.Sprintf("holder %s is described differently on line %d", r.holder, f.line)})
		}
	}
	return bad
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// importPlan turns rows into instructions, a batch at a time, so a large
// file never holds all its instructions at once: the holder's
// register_party the first time the holder appears, then the mint. Ids are
// the file's hash and the line, so running the same file again sends the
// same ids and the node answers the first outcomes: an interrupted import
// resumes, and nothing is imported twice. emit gets each batch of at most
// size instructions; the slice is reused after it returns.
func importPlan(rows []importRow, fileHash string, size int, emit func([]client.Instruction) error) error {
	prefix := "imp-" + fileHash[:importIDHash] + "-"
	seen := make(map[string]bool, len(rows))
	batch := make([]client.Instruction, 0, size)
	add := func(ins client.Instruction) error {
		batch = append(batch, ins)
		if len(batch) < size {
			return nil
		}
		err := emit(batch)
		batch = batch[:0]
		return err
	}
	for i := range rows {
		r := &rows[i]
		if !seen[r.holder] {
			seen[r.holder] = true
			if err := add(client.Instruction{ID: prefix + strconv.Itoa(r.line) + "-p", Type: client.TypeRegisterParty, Party: &client.PartySpec{
				ID: r.holder, Role: r.role, Status: r.status, Jurisdiction: r.jurisdiction, KYCExpiresAt: r.kycExpires, Custodian: r.custodian}}); err != nil {
				return err
			}
		}
		if err := add(client.Instruction{ID: prefix + strconv.Itoa(r.line), Type: client.TypeMint, Symbol: r.symbol, To: r.holder, Amount: &r.amount, AcquiredAt: &r.acquiredAt, Import: true}); err != nil {
			return err
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return emit(batch)
}

// planSize is how many instructions importPlan makes of rows.
func planSize(rows []importRow) int {
	holders := make(map[string]struct{}, len(rows))
	for i := range rows {
		holders[rows[i].holder] = struct{}{}
	}
	return len(rows) + len(holders)
}

// importResult counts what an import did.
type importResult struct {
	Rows       int    `json:"rows"`
	Accepted   int    `json:"accepted"`
	Existing   int    `json:"parties_existing"`
	Rejected   int    `json:"rejected"`
	Errors     int    `json:"errors"`
	BadRows    int    `json:"bad_rows"`
	DryRun     bool   `json:"dry_run,omitempty"`
	FileSHA256 string `json:"file_sha256"`
}

func importCmd(g *globals) *cobra.Command {
	var csvFile, ocfDir string
	var dryRun bool
	var o ocfOptions
	cmd := &cobra.Command{
		Use:   "import (--csv FILE | --ocf DIR)",
		Short: "Bring an existing register in: validate every row, then mint with import: true in batches",
		Long: `import validates the whole file first and lists every bad row with its line
number; --dry-run stops there. It then registers each holder not yet known and
mints each holding as an import (operator: receive rules and holder limits do
not apply; KYC and party existence do), in batches of up to 10,000. Ids derive
from the file's sha256 and the row, so running the same file again resumes an
interrupted import and imports nothing twice.

CSV header: ` + strings.Join(csvHeader, ",") + `
OCF: a directory of Open Cap Table Format JSON files; stakeholders become
investors, stock classes map to symbols (--class CLASS_ID=SYMBOL, default the
class id upper-cased), and stock issuances become mints.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (csvFile == "") == (ocfDir == "") {
				return errors.New("give one of --csv FILE or --ocf DIR")
			}
			var rows []importRow
			var bad []rowError
			var hash string
			var err error
			if csvFile != "" {
				rows, bad, hash, err = readCSVFile(csvFile)
			} else {
				rows, bad, hash, err = readOCF(ocfDir, o)
			}
			if err != nil {
				return err
			}
			return runImport(cmd, g, rows, bad, hash, dryRun)
		},
	}
	cmd.Flags().StringVar(&csvFile, "csv", "", "CSV file with the documented header")
	cmd.Flags().StringVar(&ocfDir, "ocf", "", "directory of OCF JSON files")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate only")
	o.register(cmd)
	return cmd
}

// readCSVFile hashes and parses a CSV import file.
func readCSVFile(path string) ([]importRow, []rowError, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, "", err
	}
	defer f.Close()
	h := sha256.New()
	rows, bad, err := parseCSV(io.TeeReader(f, h), time.Now())
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", path, err)
	}
	// The reader may stop before the end on a header error; hash it all.
	if _, err := io.Copy(h, f); err != nil {
		return nil, nil, "", err
	}
	return rows, bad, hex.EncodeToString(h.Sum(nil)), nil
}

// runImport reports bad rows or sends the plan in batches with progress.
func runImport(cmd *cobra.Command, g *globals, rows []importRow, bad []rowError, hash string, dryRun bool) error {
	errOut := cmd.ErrOrStderr()
	res := importResult{Rows: len(rows) + len(bad), BadRows: len(bad), DryRun: dryRun, FileSHA256: hash}
	for i, b := range bad {
		if i == maxRowErrors {
			fmt.Fprintf(errOut, "... and %d more bad rows\n", len(bad)-maxRowErrors)
			break
		}
		if b.line == 0 {
			// A whole file is bad (OCF JSON that does not parse).
			fmt.Fprintln(errOut, b.msg)
			continue
		}
		fmt.Fprintf(errOut, "line %d: %s\n", b.line, b.msg)
	}
	if len(bad) > 0 {
		return fmt.Errorf("import: %d bad rows; nothing was sent", len(bad))
	}
	if dryRun {
		if g.json {
			return printJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%d rows valid; dry run, nothing sent\n", len(rows))
		return nil
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	prog := newProgress(errOut, planSize(rows))
	sent := 0
	err = importPlan(rows, hash, importBatch, func(batch []client.Instruction) error {
		outs, err := c.Batch(cmd.Context(), batch)
		if err != nil {
			return fmt.Errorf("import: batch at instruction %d: %w (run the same command again to resume)", sent, err)
		}
		for i, o := range outs {
			switch {
			case o.Status == client.StatusAccepted:
				res.Accepted++
			case batch[i].Type == client.TypeRegisterParty && errors.Is(o.Err(), client.Code("ALREADY_EXISTS")):
				// The holder is already a party: its mint still applies.
				res.Existing++
			case o.Status == client.StatusRejected:
				res.Rejected++
				fmt.Fprintf(errOut, "\n%s: %v\n", o.ID, o.Err())
			default:
				res.Errors++
				fmt.Fprintf(errOut, "\n%s: %v\n", o.ID, o.Err())
			}
		}
		sent += len(batch)
		prog.add(len(batch))
		return nil
	})
	if err != nil {
		prog.done()
		return err
	}
	prog.done()
	if g.json {
		if err := printJSON(cmd.OutOrStdout(), res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "%d rows: %d instructions accepted, %d holders already registered, %d rejected, %d errors\n",
			len(rows), res.Accepted, res.Existing, res.Rejected, res.Errors)
	}
	if res.Rejected > 0 {
		return &exitError{code: exitRejected, err: fmt.Errorf("import: %d instructions rejected", res.Rejected)}
	}
	if res.Errors > 0 {
		return fmt.Errorf("import: %d instructions failed", res.Errors)
	}
	return nil
}
