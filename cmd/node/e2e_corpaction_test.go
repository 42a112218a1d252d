//go:build unix

package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	dec "github.com/shopspring/decimal"
)

const (
	// e2eCorpHolders is the register a distribution pays in steps: more
	// than the 1,000 its accepting entry pays itself.
	e2eCorpHolders = 3000
	// e2eCorpStep is the nodes' --corporate-action-step.
	e2eCorpStep = 100
	// e2eCorpCash is what the issuer holds before the distribution.
	e2eCorpCash = "1000000"
	// e2eCorpWait bounds a distribution's completion after a leader change.
	e2eCorpWait = 30 * time.Second
)

func corpHolder(i int) string { return fmt.Sprintf("h-%05d", i) }

// corpHolderUnits is what holder i holds at the record point: 1 to 9.
func corpHolderUnits(i int) int64 { return 1 + int64(i%9) }

// TestE2E_CorporateActionLeaderKill: a distribution over 3,000 holders,
// paid 100 a step by the leader's driver, loses its leader right after it
// is accepted (while most holders are still unpaid) and goes on under the
// next; holders trade meanwhile. Every node ends with every holder paid
// exactly once what its record-point units earn, the cash conserved, and
// the same lines and root.
func TestE2E_CorporateActionLeaderKill(t *testing.T) {
	c := newCluster(t)
	c.serveArgs = []string{"--corporate-action-step", fmt.Sprint(e2eCorpStep)}
	c.startAll()
	leader := c.waitLeader(c.all(), e2eStartTimeout)
	c.corpSetup(leader)

	var accepted struct {
		Status          string `json:"status"`
		Seq             uint64 `json:"seq"`
		CorporateAction struct {
			Status string `json:"status"`
		} `json:"corporate_action"`
	}
	div := map[string]any{"id": "e2e-div", "type": "distribute", "symbol": "REG", "cash_symbol": "USD", "amount_per_unit": "0.37"}
	c.corpPost(leader, "/v1/instructions", div, &accepted)
	if accepted.Status != "accepted" || accepted.CorporateAction.Status != "running" {
		t.Fatalf("distribution: %+v, want accepted and running", accepted)
	}
	// The driver polls for running actions; kill the leader before it has
	// had the time to pay the rest.
	c.kill(leader)
	old := leader
	others := c.others(old)
	leader = c.waitLeader(others, e2eElectionWait)
	var early corpActionPage
	c.mustGetJSON(leader, "/v1/corporate-actions/e2e-div?limit=1&consistency=strong", &early)
	t.Logf("leader %s killed; its successor %s has paid %d of %d holders (%s)", c.procs[old].id, c.procs[leader].id, early.Holders, e2eCorpHolders, early.Status)
	// Holders trade after the record point: their lines must not change.
	for k := range 20 {
		from, to := corpHolder(k), corpHolder(k+1)
		var o struct{ Status string }
		c.corpPost(leader, "/v1/instructions", map[string]any{"id": fmt.Sprintf("e2e-trade-%d", k), "type": "transfer",
			"legs": []map[string]any{{"symbol": "REG", "from": from, "to": to, "amount": "1"}}}, &o)
		if o.Status != "accepted" {
			t.Fatalf("trade %d: %s", k, o.Status)
		}
	}
	c.waitCorpDone(leader, "e2e-div")
	c.start(old)
	c.waitReady(old)
	c.waitCorpDone(old, "e2e-div")

	var root string
	for _, i := range c.all() {
		got := c.checkDistribution(i, "e2e-div", dec.RequireFromString("0.37"))
		if root != "" && got != root {
			t.Errorf("%s: lines_root %s, another node %s", c.procs[i].id, got, root)
		}
		root = got
	}
}

// corpActionPage is the part of GET /v1/corporate-actions/{id} the test reads.
type corpActionPage struct {
	Status    string      `json:"status"`
	Holders   uint64      `json:"holders"`
	Total     dec.Decimal `json:"total"`
	Escrow    dec.Decimal `json:"escrow"`
	LinesRoot string      `json:"lines_root"`
	Lines     []struct {
		Party  string      `json:"party"`
		Units  dec.Decimal `json:"units"`
		Amount dec.Decimal `json:"amount"`
	} `json:"lines"`
	Next string `json:"next"`
}

// corpSetup registers the issuer and the holders, creates REG and USD,
// and mints, in batches of 500 through node i.
func (c *e2eCluster) corpSetup(i int) {
	c.t.Helper()
	attrs := func(underlying string) map[string]any {
		return map[string]any{"underlying": underlying, "payoff": "linear", "embedded_leverage": "1", "expiry_days": 0, "economic_purpose": "capital_formation"}
	}
	all := []map[string]any{
		{"id": "cs-cus", "type": "register_party", "party": map[string]any{"id": "cus", "role": "custodian"}},
		{"id": "cs-iss", "type": "register_party", "party": map[string]any{"id": "iss", "role": "issuer"}},
		{"id": "cs-usd", "type": "create_instrument", "instrument": map[string]any{"symbol": "USD", "name": "US dollar", "issuer": "iss", "decimals": 2, "regime": "unrestricted", "attributes": attrs("cash")}},
		{"id": "cs-reg", "type": "create_instrument", "instrument": map[string]any{"symbol": "REG", "name": "Registered", "issuer": "iss", "decimals": 0, "regime": "registered", "attributes": attrs("enterprise_equity")}},
		{"id": "cs-cash", "type": "mint", "symbol": "USD", "to": "iss", "amount": e2eCorpCash},
	}
	for k := range e2eCorpHolders {
		all = append(all,
			map[string]any{"id": "cs-p-" + corpHolder(k), "type": "register_party", "party": map[string]any{"id": corpHolder(k), "role": "investor",
				"status": "accredited", "jurisdiction": "US", "kyc_expires_at": "2099-01-01T00:00:00Z", "custodian": "cus"}},
			map[string]any{"id": "cs-m-" + corpHolder(k), "type": "mint", "symbol": "REG", "to": corpHolder(k), "amount": fmt.Sprint(corpHolderUnits(k))})
	}
	for len(all) > 0 {
		n := min(500, len(all))
		var out struct {
			Results []struct {
				ID, Status string
			} `json:"results"`
		}
		c.corpPost(i, "/v1/instructions/batch", map[string]any{"instructions": all[:n]}, &out)
		for _, r := range out.Results {
			if r.Status != "accepted" {
				c.t.Fatalf("setup %s: %s", r.ID, r.Status)
			}
		}
		all = all[n:]
	}
}

// corpPost posts body to node i and decodes a 200 answer into v. It is raw
// HTTP: the test reads the answer's corporate_action, which the Go client's
// Outcome does not carry.
func (c *e2eCluster) corpPost(i int, path string, body, v any) {
	c.t.Helper()
	status, raw, err := c.request(context.Background(), i, http.MethodPost, path, body, 30*time.Second)
	if err != nil || status != http.StatusOK {
		c.t.Fatalf("POST %s on %s: %d %.500s (%v)", path, c.procs[i].id, status, raw, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		c.t.Fatalf("POST %s: %v: %.300s", path, err, raw)
	}
}

// waitCorpDone waits until node i says the action id is done.
func (c *e2eCluster) waitCorpDone(i int, id string) {
	c.t.Helper()
	waitFor(c.t, e2eCorpWait, fmt.Sprintf("%s to complete %s", c.procs[i].id, id), func() (bool, string) {
		var p corpActionPage
		if err := c.getJSON(i, "/v1/corporate-actions/"+id+"?limit=1", &p); err != nil {
			return false, err.Error()
		}
		return p.Status == "done", fmt.Sprintf("%s, %d holders paid", p.Status, p.Holders)
	})
}

// checkDistribution checks on node i that the distribution id paid every
// holder once, units × per unit rounded down on its record-point units,
// that each holder's cash is exactly its line (no holder had cash before),
// that the issuer paid the total and the cash supply is unchanged. It
// returns the lines' root.
func (c *e2eCluster) checkDistribution(i int, id string, perUnit dec.Decimal) string {
	c.t.Helper()
	node := c.procs[i].id
	var head corpActionPage
	lines := map[string]dec.Decimal{}
	total := dec.Zero
	after := ""
	for {
		var p corpActionPage
		path := "/v1/corporate-actions/" + id + "?limit=1000"
		if after != "" {
			path += "&after=" + after
		}
		c.mustGetJSON(i, path, &p)
		head = p
		for _, l := range p.Lines {
			if _, dup := lines[l.Party]; dup {
				c.t.Fatalf("%s: %s has two lines", node, l.Party)
			}
			lines[l.Party] = l.Amount
			total = total.Add(l.Amount)
			var k int
			if _, err := fmt.Sscanf(l.Party, "h-%05d", &k); err != nil {
				c.t.Fatalf("%s: a line of %s, who held no REG", node, l.Party)
			}
			want := dec.NewFromInt(corpHolderUnits(k))
			if !l.Units.Equal(want) || !l.Amount.Equal(want.Mul(perUnit).RoundDown(2)) {
				c.t.Fatalf("%s: %s's line %s units %s paid, want %s units", node, l.Party, l.Units, l.Amount, want)
			}
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(lines) != e2eCorpHolders || head.Holders != e2eCorpHolders || !head.Total.Equal(total) || !head.Escrow.IsZero() || head.LinesRoot == "" {
		c.t.Fatalf("%s: %d lines summing %s; the action says %d holders, total %s, escrow %s, root %q",
			node, len(lines), total, head.Holders, head.Total, head.Escrow, head.LinesRoot)
	}
	var usd struct {
		Supply  dec.Decimal `json:"supply"`
		Holders []struct {
			Party   string      `json:"party"`
			Balance dec.Decimal `json:"balance"`
		} `json:"holders"`
		Next string `json:"next"`
	}
	c.mustGetJSON(i, "/v1/instruments/USD/holders?limit=10000", &usd)
	if usd.Next != "" || !usd.Supply.Equal(dec.RequireFromString(e2eCorpCash)) {
		c.t.Fatalf("%s: USD supply %s (next %q), want %s", node, usd.Supply, usd.Next, e2eCorpCash)
	}
	sum := dec.Zero
	for _, h := range usd.Holders {
		sum = sum.Add(h.Balance)
		switch want, ok := lines[h.Party]; {
		case h.Party == "iss":
			if w := dec.RequireFromString(e2eCorpCash).Sub(total); !h.Balance.Equal(w) {
				c.t.Fatalf("%s: the issuer holds %s USD, want %s", node, h.Balance, w)
			}
		case !ok || !h.Balance.Equal(want):
			c.t.Fatalf("%s: %s holds %s USD, its line pays %s", node, h.Party, h.Balance, want)
		}
	}
	if len(usd.Holders) != e2eCorpHolders+1 {
		c.t.Fatalf("%s: %d USD holders, want the issuer and %d paid holders", node, len(usd.Holders), e2eCorpHolders)
	}
	if !sum.Equal(usd.Supply) {
		c.t.Fatalf("%s: USD balances sum to %s, supply %s", node, sum, usd.Supply)
	}
	return head.LinesRoot
}
