package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// openStream opens GET path as party's key on a real listener and returns
// the status and, for 200, a reader of its events; cancel ends it.
func openStream(t *testing.T, url, key, lastID string) (int, *bufio.Scanner, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp.StatusCode, bufio.NewScanner(resp.Body), cancel
}

// nextEntry reads events until one entry and returns it.
func nextEntry(t *testing.T, sc *bufio.Scanner) ledger.JournalEntry {
	t.Helper()
	var id string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			var e ledger.JournalEntry
			if err := json.Unmarshal([]byte(v), &e); err != nil {
				t.Fatalf("event data %s: %v", v, err)
			}
			if id != strconv.FormatUint(e.Seq, 10) {
				t.Fatalf("event id %s for entry %d", id, e.Seq)
			}
			return e
		}
	}
	t.Fatalf("stream ended: %v", sc.Err())
	return ledger.JournalEntry{}
}

// TestStreamRoles checks the stream's scoping against GET /v1/journal's:
// for each role and filter the stream's first entries are the page's, and
// a refused read is refused with the same status.
func TestStreamRoles(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	for _, q := range []string{"", "?party=inv-a", "?symbol=REG", "?after=3"} {
		for _, role := range matrixRoles {
			page := e.do("GET", "/v1/journal"+q, e.keys[role], "")
			status, sc, cancel := openStream(t, hs.URL+"/v1/journal/stream"+q, e.keys[role], "")
			if status != page.status {
				t.Errorf("stream%s as %s: status %d, GET /v1/journal answers %d", q, role, status, page.status)
			}
			if status == http.StatusOK {
				var want ledger.JournalPage
				page.decode(t, &want)
				for _, w := range want.Entries {
					if got := nextEntry(t, sc); got.Seq != w.Seq || got.Hash != w.Hash {
						t.Errorf("stream%s as %s: entry %d, want %d", q, role, got.Seq, w.Seq)
					}
				}
			}
			cancel()
		}
	}
}

// TestStreamResumes checks that Last-Event-ID wins over ?after= and that an
// entry applied while a client is connected is delivered to it.
func TestStreamResumes(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	var all ledger.JournalPage
	e.must(http.StatusOK, ledger.OperatorID, "GET", "/v1/journal?limit=1000", "").decode(t, &all)
	last := all.Entries[len(all.Entries)-1].Seq
	status, sc, cancel := openStream(t, hs.URL+"/v1/journal/stream?after=1", operatorKey, strconv.FormatUint(last-1, 10))
	defer cancel()
	if status != http.StatusOK {
		t.Fatalf("stream: status %d", status)
	}
	if got := nextEntry(t, sc); got.Seq != last {
		t.Fatalf("after Last-Event-ID %d: entry %d, want %d", last-1, got.Seq, last)
	}
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1"))
	got := nextEntry(t, sc)
	if got.Seq != last+1 || !slices.Contains(got.Parties, "inv-b") {
		t.Errorf("live entry: %d naming %v, want %d naming inv-b", got.Seq, got.Parties, last+1)
	}
}
