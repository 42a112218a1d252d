package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// ocfOptions fill what the Open Cap Table Format does not carry: an
// investor's status, KYC expiry and custodian, and the symbol of a class.
type ocfOptions struct {
	status       string
	jurisdiction string
	kycExpires   string
	custodian    string
	classes      []string
}

func (o *ocfOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.status, "ocf-status", "accredited", "with --ocf: investor status of every stakeholder")
	f.StringVar(&o.jurisdiction, "ocf-jurisdiction", "US", "with --ocf: jurisdiction of a stakeholder whose address names no country")
	f.StringVar(&o.kycExpires, "ocf-kyc-expires", "", "with --ocf: KYC expiry of every stakeholder (required with --ocf)")
	f.StringVar(&o.custodian, "ocf-custodian", "", "with --ocf: custodian of every stakeholder")
	f.StringArrayVar(&o.classes, "class", nil, "with --ocf: CLASS_ID=SYMBOL (repeatable; default: the class id upper-cased)")
}

// ocfFile is any OCF file: its items of every object type.
type ocfFile struct {
	FileType string            `json:"file_type"`
	Items    []json.RawMessage `json:"items"`
}

// ocfObject holds the fields of the three objects import reads.
type ocfObject struct {
	ObjectType string `json:"object_type"`
	ID         string `json:"id"`
	// STAKEHOLDER (its name is an object; a stock class's is a string,
	// and import reads neither)
	Name      json.RawMessage `json:"name"`
	Addresses []struct {
		Country string `json:"country"`
	} `json:"addresses"`
	// TX_STOCK_ISSUANCE
	Date          string `json:"date"`
	StakeholderID string `json:"stakeholder_id"`
	StockClassID  string `json:"stock_class_id"`
	Quantity      string `json:"quantity"`
}

// OCF object types import reads; every other is skipped.
const (
	ocfStakeholder   = "STAKEHOLDER"
	ocfStockClass    = "STOCK_CLASS"
	ocfStockIssuance = "TX_STOCK_ISSUANCE"
)

// readOCF reads every *.json file of dir (sorted by name) and turns stock
// issuances into import rows; each row's line is the issuance's position
// among all issuances, 1-based, and messages name the file and item.
func readOCF(dir string, o ocfOptions) ([]importRow, []rowError, string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, "", err
	}
	if len(paths) == 0 {
		return nil, nil, "", fmt.Errorf("%s holds no .json files", dir)
	}
	slices.Sort(paths)
	h := sha256.New()
	stakeholders := map[string]ocfObject{}
	classes := map[string]string{}
	type issuance struct {
		obj   ocfObject
		where string
	}
	var issuances []issuance
	var bad []rowError
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, "", err
		}
		h.Write([]byte(filepath.Base(p)))
		h.Write(b)
		var f ocfFile
		if err := json.Unmarshal(b, &f); err != nil {
			bad = append(bad, rowError{0, fmt.Sprintf("%s: %v", filepath.Base(p), err)})
			continue
		}
		for i, raw := range f.Items {
			var obj ocfObject
			where := fmt.Sprintf("%s item %d", filepath.Base(p), i+1)
			if err := json.Unmarshal(raw, &obj); err != nil {
				bad = append(bad, rowError{0, fmt.Sprintf("%s: %v", where, err)})
				continue
			}
			switch obj.ObjectType {
			case ocfStakeholder:
				stakeholders[obj.ID] = obj
			case ocfStockClass:
				classes[obj.ID] = strings.ToUpper(obj.ID)
			case ocfStockIssuance:
				issuances = append(issuances, issuance{obj, where})
			}
		}
	}
	for _, m := range o.classes {
		id, sym, ok := strings.Cut(m, "=")
		if !ok {
			return nil, nil, "", fmt.Errorf("--class %q: want CLASS_ID=SYMBOL", m)
		}
		classes[id] = sym
	}
	now := time.Now()
	var rows []importRow
	for i, is := range issuances {
		line := i + 1
		sh, ok := stakeholders[is.obj.StakeholderID]
		if !ok {
			bad = append(bad, rowError{line, fmt.Sprintf("%s: stakeholder %q is not among the stakeholders", is.where, is.obj.StakeholderID)})
			continue
		}
		sym, ok := classes[is.obj.StockClassID]
		if !ok {
			bad = append(bad, rowError{line, fmt.Sprintf("%s: stock class %q is not among the stock classes", is.where, is.obj.StockClassID)})
			continue
		}
		jur := o.jurisdiction
		if len(sh.Addresses) > 0 && sh.Addresses[0].Country != "" {
			jur = sh.Addresses[0].Country
		}
		rec := []string{sh.ID, "investor", o.status, jur, o.kycExpires, o.custodian, sym, is.obj.Quantity, is.obj.Date}
		row, msgs := checkRow(rec, now)
		row.line = line
		for _, m := range msgs {
			bad = append(bad, rowError{line, is.where + ": " + m})
		}
		if len(msgs) == 0 {
			rows = append(rows, row)
		}
	}
	bad = append(bad, checkHolders(rows)...)
	return rows, bad, hex.EncodeToString(h.Sum(nil)), nil
}
