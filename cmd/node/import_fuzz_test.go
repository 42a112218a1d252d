package main

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseCSV feeds arbitrary files to the import's parser: it must never
// panic, every good row must satisfy the checks the node repeats, and a
// row is either good or reported.
func FuzzParseCSV(f *testing.F) {
	head := strings.Join(csvHeader, ",") + "\n"
	f.Add(head + "inv-a,investor,accredited,US,2030-01-01,cus-1,ACME,100,2024-01-01\n")
	f.Add(head + "inv-a,investor,accredited,US,2030-01-01,cus-1,ACME,1e5,2024-01-01\n")
	f.Add(head + "\"a\nb\",issuer,,,,,X,1,2024-01-01T00:00:00Z\n")
	f.Add("holder_id\n")
	f.Add("")
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string) {
		rows, bad, err := parseCSV(strings.NewReader(text), now)
		if err != nil {
			return
		}
		for _, r := range rows {
			if !validID.MatchString(r.holder) || !validSymbol.MatchString(r.symbol) || !r.amount.IsPositive() || r.acquiredAt.After(now) {
				t.Errorf("good row %+v fails a check", r)
			}
		}
		for _, b := range bad {
			if b.msg == "" {
				t.Errorf("bad row at line %d without a message", b.line)
			}
		}
	})
}
