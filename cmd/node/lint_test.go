package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

// TestRulebookLint runs `rulebook lint` on the embedded rulebook: plain,
// under --strict (its findings fail it), and with --impact against a node
// that answers POST /v1/rulebook/lint, whose items it prints.
func TestRulebookLint(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Rulebook string }
		if r.Method != http.MethodPost || r.URL.Path != "/v1/rulebook/lint" || r.Header.Get("Authorization") != "Bearer tl_k" ||
			json.NewDecoder(r.Body).Decode(&req) != nil || req.Rulebook != string(eligibility.Default().YAML()) {
			http.Error(w, `{"error":{"code":"INVALID"}}`, http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"findings":[],"impact":[{"party":"inv-a","symbol":"REG","code":"INVESTOR_NOT_ELIGIBLE","rule":"registered.receive","message":"inv-a is retail"}]}`))
	}))
	defer node.Close()
	findings := len(eligibility.Lint(eligibility.Default()))
	if findings == 0 {
		t.Fatal("the embedded rulebook has no findings; --strict would prove nothing")
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr error // nil: none; errLintStrict; errAny: some other
		want    []string
	}{
		{"plain", []string{"lint"}, nil, []string{"embedded default"}},
		{"strict", []string{"lint", "--strict"}, errLintStrict, nil},
		{"impact", []string{"lint", "--impact", "--url", node.URL, "--key", "tl_k"}, nil,
			[]string{"1 holdings or accounts", "inv-a REG: INVESTOR_NOT_ELIGIBLE (registered.receive)"}},
		{"impact without a key", []string{"lint", "--impact", "--url", node.URL}, errAny, nil},
		{"impact refused", []string{"lint", "--impact", "--url", node.URL, "--key", "tl_other"}, errAny, nil},
		{"a file that is not there", []string{"lint", "no-such-file.yaml"}, errAny, nil},
		{"not lint", []string{"check"}, errAny, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := lintRulebook(t.Context(), &out, tc.args)
			switch {
			case tc.wantErr == nil && err != nil,
				tc.wantErr == errAny && err == nil,
				tc.wantErr == errLintStrict && !errors.Is(err, errLintStrict):
				t.Fatalf("lint %v: error %v, want %v", tc.args, err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("lint %v printed:\n%s\nwant it to contain %q", tc.args, out.String(), w)
				}
			}
		})
	}
}

// errAny stands for any error in TestRulebookLint's table.
var errAny = errors.New("any error")
