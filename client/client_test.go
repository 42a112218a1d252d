package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/client"
)

func amount(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

// world registers an issuer, a custodian and two investors, creates ACME
// (registered, 0 decimals) and mints 100 to inv-a, with the operator's client.
func world(ctx context.Context, c *client.Client) error {
	kyc := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	inss := []client.Instruction{
		{ID: "p-iss", Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "iss-acme", Role: "issuer"}},
		{ID: "p-cus", Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "cus-1", Role: "custodian"}},
		{ID: "p-aud", Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "aud", Role: "auditor"}},
		{ID: "p-a", Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "inv-a", Role: "investor", Status: "accredited", Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: "cus-1"}},
		{ID: "p-b", Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "inv-b", Role: "investor", Status: "accredited", Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: "cus-1"}},
		{ID: "i-acme", Type: client.TypeCreateInstrument, Instrument: &client.InstrumentSpec{
			Symbol: "ACME", Name: "Acme common", Issuer: "iss-acme", Decimals: 0, Regime: "registered",
			Attributes: client.Attributes{Underlying: "enterprise_equity", Payoff: "linear", EmbeddedLeverage: amount("1"), EconomicPurpose: "capital_formation"},
		}},
		{ID: "m-1", Type: client.TypeMint, Symbol: "ACME", To: "inv-a", Amount: amount("100")},
	}
	outs, err := c.Batch(ctx, inss)
	if err != nil {
		return err
	}
	for _, o := range outs {
		if err := o.Err(); err != nil {
			return err
		}
	}
	return nil
}

func operator(t testing.TB, nodes ...string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Nodes: nodes, Key: operatorKey, Backoff: time.Millisecond})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// TestErrors checks that answers map to errors matchable by their codes:
// a rejection by each refusing rule's code and ErrRejected, an error answer
// by its code, and that an accepted instruction sent again answers its
// first outcome.
func TestErrors(t *testing.T) {
	ctx := t.Context()
	c := operator(t, newNode(t))
	if err := world(ctx, c); err != nil {
		t.Fatalf("world: %v", err)
	}
	over := client.Instruction{ID: "t-over", Type: client.TypeTransfer, Legs: []client.Leg{{Symbol: "ACME", From: "inv-a", To: "inv-b", Amount: decimal.RequireFromString("1000")}}}
	tests := []struct {
		name string
		ins  client.Instruction
		want []error
	}{
		{"rejected", over, []error{client.ErrRejected, client.Code("INSUFFICIENT_BALANCE")}},
		{"not found", client.Instruction{ID: "m-x", Type: client.TypeMint, Symbol: "NOPE", To: "inv-a", Amount: amount("1")}, nil},
		{"malformed", client.Instruction{ID: "bad id!", Type: client.TypeMint, Symbol: "ACME", To: "inv-a", Amount: amount("1")}, []error{client.ErrInvalid}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Submit(ctx, tc.ins)
			if err == nil {
				t.Fatalf("Submit(%s) = nil error, want one", tc.ins.ID)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Submit(%s) = %v, want errors.Is %v", tc.ins.ID, err, w)
				}
			}
		})
	}
	_, err := c.Submit(ctx, client.Instruction{ID: "p-iss", Type: client.TypePause, Symbol: "ACME"})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !errors.Is(err, client.ErrIDReused) {
		t.Errorf("reused id with another body: %v, want 409 ID_REUSED", err)
	}
}

// TestRetryNextNode checks that a 503 is sent again, with the same id and
// body, to the next node, and that the instruction applies once.
func TestRetryNextNode(t *testing.T) {
	ctx := t.Context()
	good := newNode(t)
	var refused atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"NO_LEADER","message":"no leader"}}`)
	}))
	t.Cleanup(down.Close)
	c := operator(t, down.URL, good)
	if err := world(ctx, c); err != nil {
		t.Fatalf("world through a down node: %v", err)
	}
	if refused.Load() == 0 {
		t.Fatalf("the down node was never asked")
	}
	// The same instruction again, from a fresh client that starts at the
	// down node: the first outcome, no second mint.
	c2 := operator(t, down.URL, good)
	o, err := c2.Submit(ctx, client.Instruction{ID: "m-1", Type: client.TypeMint, Symbol: "ACME", To: "inv-a", Amount: amount("100")})
	if err != nil || o.Status != client.StatusAccepted {
		t.Fatalf("resend m-1 = %+v, %v; want its first outcome", o, err)
	}
	in, err := c2.Instrument(ctx, "ACME")
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	if !in.Supply.Equal(decimal.NewFromInt(100)) {
		t.Errorf("supply = %s after resending m-1, want 100", in.Supply)
	}
}

// TestRetryGivesUp checks that a cluster that never answers but 503 ends in
// a retryable *APIError after the configured attempts.
func TestRetryGivesUp(t *testing.T) {
	var n atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/cluster" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"TIMEOUT","message":"outcome unknown"}}`)
	}))
	t.Cleanup(down.Close)
	c, err := client.New(client.Config{Nodes: []string{down.URL}, Key: "k", Attempts: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(t.Context(), client.Instruction{ID: "x", Type: client.TypePause, Symbol: "ACME"})
	if !errors.Is(err, client.ErrTimeout) {
		t.Errorf("Submit = %v, want TIMEOUT", err)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("sent %d times, want 3", got)
	}
}

// TestPaging checks that Holders and Journal iterate past one page.
func TestPaging(t *testing.T) {
	ctx := t.Context()
	c := operator(t, newNode(t))
	if err := world(ctx, c); err != nil {
		t.Fatalf("world: %v", err)
	}
	kyc := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const extra = client.HoldersPageSize + 5
	var inss []client.Instruction
	for i := range extra {
		id := fmt.Sprintf("h-%04d", i)
		inss = append(inss,
			client.Instruction{ID: "p-" + id, Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: id, Role: "investor", Status: "accredited", Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: "cus-1"}},
			client.Instruction{ID: "m-" + id, Type: client.TypeMint, Symbol: "ACME", To: id, Amount: amount("1")})
	}
	outs, err := c.Batch(ctx, inss)
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	for _, o := range outs {
		if o.Err() != nil {
			t.Fatalf("batch result %s: %v", o.ID, o.Err())
		}
	}
	holders := 0
	for _, err := range c.Holders(ctx, "ACME", 0) {
		if err != nil {
			t.Fatalf("Holders: %v", err)
		}
		holders++
	}
	if want := extra + 1; holders != want {
		t.Errorf("Holders yielded %d, want %d", holders, want)
	}
	var seq uint64
	for e, err := range c.Journal(ctx, client.JournalFilter{}) {
		if err != nil {
			t.Fatalf("Journal: %v", err)
		}
		if e.Seq != seq+1 {
			t.Fatalf("journal seq %d after %d", e.Seq, seq)
		}
		seq = e.Seq
	}
	if want := uint64(8 + 2*extra); seq != want {
		t.Errorf("journal ended at %d, want %d", seq, want)
	}
}

// TestFollow checks that the stream delivers the committed entries, then
// new ones as they apply, and resumes after a given seq without repeats.
func TestFollow(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := operator(t, newNode(t))
	if err := world(ctx, c); err != nil {
		t.Fatalf("world: %v", err)
	}
	// Entry 1 is the operator's key and world wrote 2..8: after entry 6 the
	// stream must give 7, 8 (committed), then 9 (new).
	next := uint64(7)
	for e, err := range c.Follow(ctx, client.JournalFilter{After: 6}) {
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
		if e.Seq != next {
			t.Fatalf("Follow gave seq %d, want %d", e.Seq, next)
		}
		if e.Seq == 8 {
			if _, err := c.Submit(ctx, client.Instruction{ID: "t-1", Type: client.TypeTransfer, Legs: []client.Leg{{Symbol: "ACME", From: "inv-a", To: "inv-b", Amount: decimal.NewFromInt(5)}}}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
		}
		if e.Seq == 9 {
			break
		}
		next++
	}
	if ctx.Err() != nil {
		t.Fatalf("Follow did not deliver the new entry: %v", ctx.Err())
	}
}

// TestFollowScoped checks that the stream is scoped like GET /v1/journal:
// an investor sees only entries naming it, and another's party is 403.
func TestFollowScoped(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	url := newNode(t)
	op := operator(t, url)
	if err := world(ctx, op); err != nil {
		t.Fatalf("world: %v", err)
	}
	k, err := op.CreateKey(ctx, "inv-b")
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	inv, err := client.New(client.Config{Nodes: []string{url}, Key: k.Key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Submit(ctx, client.Instruction{ID: "t-1", Type: client.TypeTransfer, Legs: []client.Leg{{Symbol: "ACME", From: "inv-a", To: "inv-b", Amount: decimal.NewFromInt(5)}}}); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	for e, err := range inv.Follow(ctx, client.JournalFilter{}) {
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
		if !slices.Contains(e.Parties, "inv-b") {
			t.Fatalf("inv-b's stream gave seq %d, which does not name inv-b: %s", e.Seq, e.Instruction)
		}
		if bytes.Contains(e.Instruction, []byte(`"t-1"`)) {
			break
		}
	}
	for _, err := range inv.Follow(ctx, client.JournalFilter{Party: "inv-a"}) {
		if !errors.Is(err, client.ErrNotAuthorized) {
			t.Errorf("inv-b following inv-a: %v, want NOT_AUTHORIZED", err)
		}
		break
	}
}
