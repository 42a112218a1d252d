package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/client"
)

// answering is a node that answers every request but GET /v1/cluster with
// status and body, and counts the requests of each kind.
func answering(t *testing.T, status int, body string) (url string, sends, follows *atomic.Int32) {
	t.Helper()
	sends, follows = new(atomic.Int32), new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/cluster" {
			follows.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		sends.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, sends, follows
}

// TestIsUnknownOutcome checks which failures of a write leave its outcome
// unknown: no answer and 503 do; a decision, a refusal before proposing and
// a broken contract do not.
func TestIsUnknownOutcome(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name    string
		node    func(t *testing.T) string
		ctx     func() context.Context
		unknown bool
		bad     bool
	}{
		{"no answer", func(*testing.T) string { return closed.URL }, context.Background, true, false},
		{"503", func(t *testing.T) string {
			u, _, _ := answering(t, http.StatusServiceUnavailable, `{"error":{"code":"NO_LEADER","message":"x"}}`)
			return u
		}, context.Background, true, false},
		{"context ended", func(t *testing.T) string {
			u, _, _ := answering(t, http.StatusOK, `{"id":"x","status":"accepted","index":1,"seq":1}`)
			return u
		}, func() context.Context { ctx, cancel := context.WithCancel(context.Background()); cancel(); return ctx }, true, false},
		{"rejected", func(t *testing.T) string {
			u, _, _ := answering(t, http.StatusUnprocessableEntity, `{"id":"x","status":"rejected","index":1,"seq":1,"reason":{"code":"PAUSED"}}`)
			return u
		}, context.Background, false, false},
		{"409", func(t *testing.T) string {
			u, _, _ := answering(t, http.StatusConflict, `{"error":{"code":"ID_REUSED","message":"x"}}`)
			return u
		}, context.Background, false, false},
		{"200 with a rejection", func(t *testing.T) string {
			u, _, _ := answering(t, http.StatusOK, `{"id":"x","status":"rejected","index":1,"seq":1}`)
			return u
		}, context.Background, false, true},
		{"422 with an acceptance", func(t *testing.T) string {
			u, _, _ := answering(t, http.StatusUnprocessableEntity, `{"id":"x","status":"accepted","index":1,"seq":1}`)
			return u
		}, context.Background, false, true},
		{"outcome of another id", func(t *testing.T) string {
			u, _, _ := answering(t, http.StatusOK, `{"id":"y","status":"accepted","index":1,"seq":1}`)
			return u
		}, context.Background, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(client.Config{Nodes: []string{tc.node(t)}, Key: "k", Attempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Submit(tc.ctx(), client.Instruction{ID: "x", Type: client.TypePause, Symbol: "ACME"})
			if err == nil {
				t.Fatal("Submit = nil, want an error")
			}
			if got := client.IsUnknownOutcome(err); got != tc.unknown {
				t.Errorf("IsUnknownOutcome(%v) = %v, want %v", err, got, tc.unknown)
			}
			if got := errors.Is(err, client.ErrBadAnswer); got != tc.bad {
				t.Errorf("errors.Is(%v, ErrBadAnswer) = %v, want %v", err, got, tc.bad)
			}
		})
	}
	if client.IsUnknownOutcome(nil) {
		t.Error("IsUnknownOutcome(nil) = true")
	}
}

// TestSingleSendObserved checks that Attempts 1 sends once, to the one node,
// without asking it for the leader, and that Observe sees the exchange with
// its status.
func TestSingleSendObserved(t *testing.T) {
	u, sends, follows := answering(t, http.StatusServiceUnavailable, `{"error":{"code":"TIMEOUT","message":"outcome unknown"}}`)
	var seen []client.Attempt
	c, err := client.New(client.Config{Nodes: []string{u}, Key: "k", Attempts: 1,
		Observe: func(a client.Attempt) { seen = append(seen, a) }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(t.Context(), client.Instruction{ID: "x", Type: client.TypePause, Symbol: "ACME"})
	if !errors.Is(err, client.ErrTimeout) {
		t.Errorf("Submit = %v, want TIMEOUT", err)
	}
	if s, f := sends.Load(), follows.Load(); s != 1 || f != 0 {
		t.Errorf("sent %d, asked for the leader %d times; want 1 and 0", s, f)
	}
	if len(seen) != 1 || seen[0].Node != u || seen[0].Status != http.StatusServiceUnavailable || seen[0].Path != "/v1/instructions" || seen[0].Err == nil {
		t.Errorf("observed %+v, want one 503 from %s", seen, u)
	}
}

// TestRegister checks that Register reads a cap table past one page with
// its supply, now and at an earlier seq.
func TestRegister(t *testing.T) {
	ctx := t.Context()
	c := operator(t, newNode(t))
	if err := world(ctx, c); err != nil {
		t.Fatalf("world: %v", err)
	}
	before, err := c.Register(ctx, "ACME", 0)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	kyc := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const extra = client.HoldersPageSize + 5
	var inss []client.Instruction
	for i := range extra {
		id := fmt.Sprintf("r-%04d", i)
		inss = append(inss,
			client.Instruction{ID: "p-" + id, Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: id, Role: "investor", Status: "accredited", Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: "cus-1"}},
			client.Instruction{ID: "m-" + id, Type: client.TypeMint, Symbol: "ACME", To: id, Amount: amount("1")})
	}
	if _, err := c.Batch(ctx, inss); err != nil {
		t.Fatalf("Batch: %v", err)
	}
	tests := []struct {
		name    string
		at      uint64
		supply  int64
		holders int
	}{
		{"now", 0, 100 + extra, extra + 1},
		{"before the mints", before.Seq, 100, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.Register(ctx, "ACME", tc.at)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			sum := decimal.Zero
			for _, h := range r.Holders {
				sum = sum.Add(h.Balance)
			}
			if r.Symbol != "ACME" || r.Seq == 0 || !r.Supply.Equal(decimal.NewFromInt(tc.supply)) || !sum.Equal(r.Supply) || len(r.Holders) != tc.holders {
				t.Errorf("Register = %s at %d, supply %s, %d holders summing to %s; want supply %d in %d holders",
					r.Symbol, r.Seq, r.Supply, len(r.Holders), sum, tc.supply, tc.holders)
			}
		})
	}
}
