package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// codesByStatus are the error codes each status may carry.
var codesByStatus = map[int][]string{
	http.StatusBadRequest:            {"MALFORMED", "UNKNOWN_FIELD", "BAD_AMOUNT", "INVALID"},
	http.StatusForbidden:             {"NOT_AUTHORIZED"},
	http.StatusNotFound:              {"NOT_FOUND"},
	http.StatusConflict:              {"ID_REUSED", "CORPORATE_ACTION_RUNNING"},
	http.StatusRequestEntityTooLarge: {"TOO_LARGE"},
}

// FuzzRequestDecoding drives the request decoding path (instructions, batch,
// dry run, classify) with arbitrary bodies from several roles. Whatever the
// body, the server must not fail (no 500, no panic), must answer JSON, and an
// error must carry a code its status allows. Seeds: the bad inputs of API.md
// and transfer's instruction fixtures.
func FuzzRequestDecoding(f *testing.F) {
	seeds := []string{
		mint("USD", "inv-a", "1"), transferBody("REG", "inv-a", "inv-b", "1"),
		`{"id":"x","type":`, `[]`, ``, `null`, `{"id":"x","type":"mint","symbol":"USD","to":"inv-a","amount":5}`,
		`{"id":"x","type":"mint","symbol":"USD","to":"inv-a","amount":"1e999999"}`,
		`{"id":"x","type":"mint","symbol":"USD","to":"inv-a","amount":"0.0000000000000000001"}`,
		`{"id":"x","type":"mint","symbol":"USD","to":"inv-a","amount":"-1","x":1}`,
		`{"instructions":[{"id":"a","type":"pause","symbol":"REG"},{"id":"b"}]}`,
		`{"attributes":{"underlying":"event","payoff":"binary","embedded_leverage":"2","event_topic":"war"}}`,
	}
	files, _ := filepath.Glob("../transfer/testdata/instructions/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	e := newEnv(f, api.Config{})
	e.world()
	paths := []string{"/v1/instructions", "/v1/check", "/v1/instructions/batch", "/v1/classify"}
	roles := []string{ledger.OperatorID, "iss-1", "cus-1", "inv-a", "aud"}
	f.Fuzz(func(t *testing.T, choice uint8, body string) {
		path := paths[int(choice)%len(paths)]
		role := roles[int(choice/4)%len(roles)]
		if path == "/v1/instructions/batch" && !strings.HasPrefix(strings.TrimSpace(body), `{"instructions"`) {
			body = `{"instructions":[` + body + `]}`
		}
		r := e.request("POST", path, e.keys[role], body)
		if !json.Valid(r.body) {
			t.Fatalf("POST %s as %s %q: %d with a body that is not JSON: %q", path, role, body, r.status, r.body)
		}
		switch r.status {
		case http.StatusOK, http.StatusUnprocessableEntity:
			return
		}
		codes, ok := codesByStatus[r.status]
		if !ok || !slices.Contains(codes, r.errorCode()) {
			t.Fatalf("POST %s as %s %q: %d %s", path, role, body, r.status, r.body)
		}
	})
}

// BenchmarkBatchOverhead measures the API's own cost per instruction of a
// full batch (decode, authorize, encode, render) with a Replicator that
// answers at once, so consensus and the ledger are left out.
func BenchmarkBatchOverhead(b *testing.B) {
	e := newEnv(b, api.Config{})
	e.world()
	e.repl.submitFn = func(_ context.Context, _, _ string, inss []transfer.Instruction) ([]ledger.Outcome, error) {
		out := make([]ledger.Outcome, len(inss))
		for i, ins := range inss {
			out[i] = ledger.Outcome{ID: ins.ID, Status: ledger.StatusAccepted, Index: 1, Seq: uint64(i + 1)}
		}
		return out, nil
	}
	items := make([]string, api.MaxBatchInstructions)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id":"bench-%d","type":"transfer","legs":[{"symbol":"USD","from":"inv-a","to":"inv-b","amount":"0.01"}]}`, i)
	}
	body := `{"instructions":[` + strings.Join(items, ",") + `]}`
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		if r := e.as("inv-a", "POST", "/v1/instructions/batch", body); r.status != http.StatusOK {
			b.Fatalf("batch: %d %.200s", r.status, r.body)
		}
	}
	b.ReportMetric(float64(b.N*api.MaxBatchInstructions)/b.Elapsed().Seconds(), "instructions/s")
}
