package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// checkParseError fails unless err is the API's own error with a client status.
func checkParseError(t *testing.T, body string, err error) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusRequestEntityTooLarge) || ae.Code == "" {
		t.Fatalf("parse %q: error %v, want a 400 or 413 *api.Error", body, err)
	}
}

// FuzzKeyRequest: a POST /v1/keys body never panics the parser; what it
// accepts names a valid party and a future expiry, and parses the same again
// once re-encoded.
func FuzzKeyRequest(f *testing.F) {
	for _, s := range []string{
		`{"party_id":"cus-1"}`, `{"party_id":"cus-1","expires_at":"2026-01-05T10:00:00Z"}`,
		`{"party_id":"cus-1","expires_at":"2026-01-05T09:00:00Z"}`, `{"party_id":"cus-1","expires_at":"2026-01-05T10:00:00+14:00"}`,
		`{"party_id":"cus-1","expires_at":null}`, `{"party_id":"","expires_at":"9999-12-31T23:59:59.999999999Z"}`,
		`{"party_id":"a b"}`, `{"party_id":"x","expires_at":1}`, `{"party_id":"x"} {}`, ``, `[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := api.ParseKeyRequest([]byte(body), epoch)
		if err != nil {
			checkParseError(t, body, err)
			return
		}
		if !transfer.ValidID(req.PartyID) {
			t.Fatalf("parse %q: accepted party_id %q", body, req.PartyID)
		}
		if req.ExpiresAt != nil && (!req.ExpiresAt.After(epoch) || req.ExpiresAt.Location() != time.UTC) {
			t.Fatalf("parse %q: accepted expires_at %v, want a UTC time after %s", body, req.ExpiresAt, epoch)
		}
		again, err := api.ParseKeyRequest(jsonBytes(t, req), epoch)
		if err != nil || again.PartyID != req.PartyID || (again.ExpiresAt == nil) != (req.ExpiresAt == nil) ||
			again.ExpiresAt != nil && !again.ExpiresAt.Equal(*req.ExpiresAt) {
			t.Fatalf("parse %q = %+v; re-encoded it parses as %+v, %v", body, req, again, err)
		}
	})
}

// FuzzLintRequest: a POST /v1/rulebook/lint body never panics the parser
// or lint; what it accepts is a rulebook that lints.
func FuzzLintRequest(f *testing.F) {
	for _, s := range []string{
		jsonOfF(map[string]string{"rulebook": string(eligibility.Default().YAML())}),
		`{"rulebook":"schema: ["}`, `{"rulebook":"schema: 1\nversion: x\n"}`, `{"rulebook":""}`, `{}`,
		`{"rulebook":"x","other":1}`, `{"rulebook":1}`, `null`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rb, err := api.ParseLintRequest([]byte(body))
		if err != nil {
			checkParseError(t, body, err)
			return
		}
		if rb == nil {
			t.Fatalf("parse %q: no rulebook and no error", body)
		}
		_ = eligibility.Lint(rb)
	})
}

func jsonBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonOfF(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
