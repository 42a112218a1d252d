package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// fakeClock is a Config.Now the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// accessLine is one line of the access log as the JSON handler writes it.
type accessLine struct {
	Msg        string   `json:"msg"`
	Level      string   `json:"level"`
	RequestID  string   `json:"request_id"`
	RemoteAddr string   `json:"remote_addr"`
	Party      *string  `json:"party"`
	Method     string   `json:"method"`
	Route      string   `json:"route"`
	Status     int      `json:"status"`
	LatencyMS  *float64 `json:"latency_ms"`
	BytesOut   *int64   `json:"bytes_out"`
}

// accessLog returns the access log line of the request with id, failing the
// test unless there is exactly one.
func (e *env) accessLog(t *testing.T, id string) accessLine {
	t.Helper()
	var found []accessLine
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if l.Msg == "request" && l.RequestID == id {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access log lines for request %q, want 1; log:\n%s", len(found), id, e.logs.String())
	}
	return found[0]
}

// TestAccessLog checks the access log's one line per request, for an
// answer, a refusal of each kind and a throttled key. Method: send each
// request from a known address, find its line by the X-Request-ID the
// response carries, and compare its fields; an error body repeats the id.
func TestAccessLog(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	// An address that has used up its failed authentications.
	const flooded = "192.0.2.77:5555"
	e.addr = flooded
	for range api.AuthFailureBurst {
		e.do("GET", "/v1/parties/inv-a", "tl_not-a-key", "")
	}
	e.addr = ""

	tests := []struct {
		name       string
		addr       string
		key        string
		path       string
		wantStatus int
		wantParty  string // "" means no party field
		wantRoute  string
	}{
		{"200", "192.0.2.10:1111", e.keys["inv-a"], "/v1/parties/inv-a", http.StatusOK, "inv-a", "/v1/parties/:id"},
		{"401", "192.0.2.11:1111", "tl_not-a-key", "/v1/parties/inv-a", http.StatusUnauthorized, "", "/v1/parties/:id"},
		{"403", "192.0.2.12:1111", e.keys["inv-a"], "/v1/parties/inv-b/holdings", http.StatusForbidden, "inv-a", "/v1/parties/:id/holdings"},
		{"429", flooded, "tl_not-a-key", "/v1/parties/inv-a", http.StatusTooManyRequests, "", "/v1/parties/:id"},
		{"404 of no route", "192.0.2.13:1111", "", "/v1/nothing/here", http.StatusNotFound, "", "unmatched"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.addr = tc.addr
			defer func() { e.addr = "" }()
			r := e.do("GET", tc.path, tc.key, "")
			if r.status != tc.wantStatus {
				t.Fatalf("GET %s: %d %s, want %d", tc.path, r.status, r.body, tc.wantStatus)
			}
			id := r.header.Get(api.HeaderRequestID)
			if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Errorf("X-Request-ID = %q, want 16 hex characters", id)
			}
			if r.status >= 400 {
				if got := r.errorDetail().RequestID; got != id {
					t.Errorf("error body's request_id = %q, header %q: %s", got, id, r.body)
				}
			}
			l := e.accessLog(t, id)
			if l.Level != "INFO" || l.RemoteAddr != tc.addr || l.Method != "GET" || l.Route != tc.wantRoute || l.Status != tc.wantStatus {
				t.Errorf("access log = %+v, want INFO from %s, GET %s, status %d", l, tc.addr, tc.wantRoute, tc.wantStatus)
			}
			if l.LatencyMS == nil || *l.LatencyMS < 0 {
				t.Errorf("latency_ms = %v, want a duration", l.LatencyMS)
			}
			if l.BytesOut == nil || *l.BytesOut != int64(len(r.body)) {
				t.Errorf("bytes_out = %v, want %d", l.BytesOut, len(r.body))
			}
			switch {
			case tc.wantParty == "" && l.Party != nil:
				t.Errorf("party = %q, want none", *l.Party)
			case tc.wantParty != "" && (l.Party == nil || *l.Party != tc.wantParty):
				t.Errorf("party = %v, want %q", l.Party, tc.wantParty)
			}
			if strings.Contains(e.logs.String(), "inv-b/holdings") {
				t.Errorf("the log holds a request's path, not its route's pattern")
			}
		})
	}
	t.Run("500 of a panic", func(t *testing.T) {
		e.repl.submitFn = func(context.Context, string, string, []transfer.Instruction) ([]ledger.Outcome, error) {
			panic("replicator bug")
		}
		defer func() { e.repl.submitFn = nil }()
		r := e.as("inv-a", "POST", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1"))
		id := r.header.Get(api.HeaderRequestID)
		if r.status != http.StatusInternalServerError || r.errorDetail().RequestID != id {
			t.Fatalf("status %d %s, want 500 with request id %q", r.status, r.body, id)
		}
		l := e.accessLog(t, id)
		if l.Status != http.StatusInternalServerError || l.Route != "/v1/instructions" || l.Method != "POST" || l.Party == nil || *l.Party != "inv-a" {
			t.Errorf("access log = %+v, want inv-a's POST /v1/instructions answered 500", l)
		}
	})
}

// TestRequestID checks which X-Request-ID a client may choose: a short token
// of safe characters is kept, in the response header, the error body and
// the log; anything else, and anything that looks like a key, is replaced.
func TestRequestID(t *testing.T) {
	e := newEnv(t, api.Config{})
	key, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"uuid", "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b", true},
		{"token", "req.42_A", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 41), false},
		{"space", "two words", false},
		{"quote", `a"b`, false},
		{"a key prefix", api.KeyPrefix + "abc", false},
		{"a whole key", key, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v1/parties", nil)
			if tc.sent != "" {
				req.Header.Set(api.HeaderRequestID, tc.sent)
			}
			r := e.serve(req)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.status)
			}
			id := r.header.Get(api.HeaderRequestID)
			if got := id == tc.sent; got != tc.kept {
				t.Errorf("sent %q, answered %q; kept = %v, want %v", tc.sent, id, got, tc.kept)
			}
			if id == "" || r.errorDetail().RequestID != id {
				t.Errorf("header %q, error body %s: want the same id", id, r.body)
			}
			e.accessLog(t, id)
			if tc.sent != "" && !tc.kept && strings.Contains(e.logs.String(), tc.sent) {
				t.Errorf("the log holds the refused id %q", tc.sent)
			}
		})
	}
}

// TestFailedAuthThrottle checks the failed-authentication limit: from one
// address, 300 requests with unknown keys are answered 401 for the burst and
// then 429 with Retry-After, while a valid key from the same address is
// answered 200 throughout and another address is unaffected; once the fake
// clock moves on, the address is let through again at the refill rate.
func TestFailedAuthThrottle(t *testing.T) {
	clock := &fakeClock{now: epoch}
	e := newEnv(t, api.Config{Now: clock.Now})
	e.world()
	const attacker, neighbour = "198.51.100.7:40001", "198.51.100.8:40001"
	var unauthorized, throttled int
	for i := range 300 {
		e.addr = attacker
		r := e.do("GET", "/v1/parties/inv-a", "tl_guess-"+string(rune('a'+i%26)), "")
		switch r.status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			throttled++
			if r.errorCode() != string(api.CodeTooManyRequests) || r.header.Get("Retry-After") != "1" {
				t.Fatalf("429 #%d: code %q, Retry-After %q, want TOO_MANY_REQUESTS and 1", throttled, r.errorCode(), r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("bad key #%d: status %d %s", i, r.status, r.body)
		}
		if i%10 == 0 {
			// A port of its own, as a second connection from the host has.
			e.addr = "198.51.100.7:40002"
			if r := e.as("inv-a", "GET", "/v1/parties/inv-a", ""); r.status != http.StatusOK {
				t.Fatalf("a valid key from the throttled address after %d bad ones: %d %s", i+1, r.status, r.body)
			}
		}
	}
	if unauthorized != api.AuthFailureBurst || throttled != 300-api.AuthFailureBurst {
		t.Errorf("300 bad keys: %d answered 401 and %d 429, want %d and %d", unauthorized, throttled, api.AuthFailureBurst, 300-api.AuthFailureBurst)
	}
	// Requests without any key count the same.
	e.addr = attacker
	if r := e.do("GET", "/v1/cluster", "", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("no key from the throttled address: %d, want 429", r.status)
	}

	e.addr = neighbour
	if r := e.do("GET", "/v1/parties/inv-a", "tl_guess", ""); r.status != http.StatusUnauthorized {
		t.Errorf("another address: %d, want 401", r.status)
	}

	// One refill lets exactly one more failure through.
	e.addr = attacker
	clock.advance(api.AuthFailureRefill)
	for i, want := range []int{http.StatusUnauthorized, http.StatusTooManyRequests} {
		if r := e.do("GET", "/v1/parties/inv-a", "tl_guess", ""); r.status != want {
			t.Errorf("after one refill, request %d: %d, want %d", i, r.status, want)
		}
	}
	// A full bucket after burst refills, and no more.
	clock.advance(api.AuthFailureBurst * api.AuthFailureRefill * 5)
	unauthorized = 0
	for range api.AuthFailureBurst + 5 {
		if r := e.do("GET", "/v1/parties/inv-a", "tl_guess", ""); r.status == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized != api.AuthFailureBurst {
		t.Errorf("after a long wait, %d failures let through, want %d", unauthorized, api.AuthFailureBurst)
	}
	if r := e.as(ledger.OperatorID, "GET", "/v1/parties/inv-a", ""); r.status != http.StatusOK {
		t.Errorf("the operator's key from the throttled address: %d", r.status)
	}
}
