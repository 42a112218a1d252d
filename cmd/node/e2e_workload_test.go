//go:build unix

package main_test

// The workload of the e2e fault tests and its checks. A history records every
// instruction id the test attempted and what came back: a decided outcome
// (200 accepted, 422 rejected: acknowledged), or nothing certain (transport
// error, 503, timeout after bounded retries with the same id: unknown). The
// checks are Jepsen's set and bank checks over the journal every node serves:
// every acknowledged id is there exactly once with the outcome the client was
// told, an unknown id at most once, nothing the test never sent; the journal
// chains and is the same on every node; and the cap tables are the fold of
// the journal, sum to supply, and supply is what was minted.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// e2eInvestors is how many investors the workload moves value between.
	e2eInvestors = 6
	// e2eMintUSD and e2eMintACME are each investor's opening balances: far
	// more than the workload can move, so every transfer should be accepted.
	e2eMintUSD  = "100000.00"
	e2eMintACME = "1000"
	// e2eSubmitAttempts bounds the tries of one instruction (same id, next
	// node each time) before its outcome is recorded as unknown.
	e2eSubmitAttempts = 12
	// e2eBatchEvery and e2eBatchSize: one writer request in e2eBatchEvery is
	// a POST /v1/instructions/batch of e2eBatchSize transfers.
	e2eBatchEvery = 5
	e2eBatchSize  = 4
	// e2eRetryDelayMax caps the back-off between tries.
	e2eRetryDelayMax = 400 * time.Millisecond
	// e2eMaxJournalPages bounds reading a journal (1000 entries a page).
	e2eMaxJournalPages = 1000
	// e2eConvergeTimeout bounds waiting for every node to hold the same journal.
	e2eConvergeTimeout = 30 * time.Second
)

var e2eSymbols = []string{"ACME", "USD"}

func investor(k int) string { return fmt.Sprintf("inv-%d", k) }

// outcome is an instruction's answer (API.md, Writes).
type outcome struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Index  uint64 `json:"index"`
	Seq    uint64 `json:"seq"`
	Reason *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reason"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (o outcome) String() string {
	s := fmt.Sprintf("%s %s index=%d seq=%d", o.ID, o.Status, o.Index, o.Seq)
	if o.Reason != nil {
		s += " reason=" + o.Reason.Code + ": " + o.Reason.Message
	}
	if o.Error != nil {
		s += " error=" + o.Error.Code + ": " + o.Error.Message
	}
	return s
}

// history is what the test sent and what it was told; safe for concurrent use.
type history struct {
	mu        sync.Mutex // guards the fields below
	attempted map[string]bool
	acked     map[string]outcome
	unknown   map[string]bool
	failures  []string // answers no correct node gives the workload
	minted    map[string]*big.Rat
	writes    map[string]bool // ids of the workload's transfers, all expected accepted
}

func newHistory() *history {
	return &history{
		attempted: map[string]bool{}, acked: map[string]outcome{}, unknown: map[string]bool{},
		minted: map[string]*big.Rat{}, writes: map[string]bool{},
	}
}

func (h *history) attempt(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempted[id] = true
}

func (h *history) ack(o outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if prev, ok := h.acked[o.ID]; ok && (prev.Status != o.Status || prev.Seq != o.Seq || prev.Index != o.Index) {
		h.failures = append(h.failures, fmt.Sprintf("%s answered twice differently: %v, then %v", o.ID, prev, o))
	}
	h.acked[o.ID] = o
	delete(h.unknown, o.ID)
}

func (h *history) lost(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.acked[id]; !ok {
		h.unknown[id] = true
	}
}

func (h *history) fail(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, fmt.Sprintf(format, args...))
}

func (h *history) counts() (acked, unknown int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acked), len(h.unknown)
}

// ackedIDs returns the acknowledged ids, sorted.
func (h *history) ackedIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.acked))
	for id := range h.acked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// submit sends one instruction, starting at node start, and retries with the
// same id on the next node while the answer is transient, at most
// e2eSubmitAttempts times. It records the answer in h and returns the
// outcome and whether one was decided.
func (c *e2eCluster) submit(h *history, ins map[string]any, start int) (outcome, bool) {
	id := ins["id"].(string)
	h.attempt(id)
	delay := 25 * time.Millisecond
	for attempt := range e2eSubmitAttempts {
		node := (start + attempt) % len(c.procs)
		status, body, err := c.request(context.Background(), node, http.MethodPost, "/v1/instructions", ins, 0)
		if !isTransient(status, err) {
			if status != http.StatusOK && status != http.StatusUnprocessableEntity {
				h.fail("%s on %s: unexpected %d %.300s", id, c.procs[node].id, status, body)
				h.lost(id)
				return outcome{}, false
			}
			var o outcome
			if err := json.Unmarshal(body, &o); err != nil || o.ID != id || o.Seq == 0 {
				h.fail("%s on %s: malformed outcome (%v): %.300s", id, c.procs[node].id, err, body)
				h.lost(id)
				return outcome{}, false
			}
			if want := map[int]string{200: "accepted", 422: "rejected"}[status]; o.Status != want {
				h.fail("%s on %s: status %d with outcome %v", id, c.procs[node].id, status, o)
			}
			h.ack(o)
			return o, true
		}
		// A back-off between tries of the same request, not a synchronisation.
		t := time.NewTimer(delay)
		<-t.C
		delay = min(2*delay, e2eRetryDelayMax)
	}
	h.lost(id)
	return outcome{}, false
}

// submitBatch sends instructions in one POST /v1/instructions/batch, starting
// at node start, and retries the whole batch, same ids, while the answer is
// transient, like submit. It records each result in h and returns how many
// were decided.
func (c *e2eCluster) submitBatch(h *history, inss []map[string]any, start int) int {
	ids := make([]string, len(inss))
	for k, ins := range inss {
		ids[k] = ins["id"].(string)
		h.attempt(ids[k])
	}
	lostAll := func() {
		for _, id := range ids {
			h.lost(id)
		}
	}
	body := map[string]any{"instructions": inss}
	delay := 25 * time.Millisecond
	for attempt := range e2eSubmitAttempts {
		node := (start + attempt) % len(c.procs)
		status, resp, err := c.request(context.Background(), node, http.MethodPost, "/v1/instructions/batch", body, 0)
		if isTransient(status, err) {
			t := time.NewTimer(delay) // a back-off, not a synchronisation
			<-t.C
			delay = min(2*delay, e2eRetryDelayMax)
			continue
		}
		var out struct {
			Results []outcome `json:"results"`
		}
		if status != http.StatusOK || json.Unmarshal(resp, &out) != nil || len(out.Results) != len(ids) {
			h.fail("batch %s..%s on %s: unexpected %d %.300s", ids[0], ids[len(ids)-1], c.procs[node].id, status, resp)
			lostAll()
			return 0
		}
		decided := 0
		for k, o := range out.Results {
			switch {
			case o.ID != ids[k]:
				h.fail("batch result %d on %s: id %q, want %q", k, c.procs[node].id, o.ID, ids[k])
				h.lost(ids[k])
			case (o.Status == "accepted" || o.Status == "rejected") && o.Seq > 0:
				h.ack(o)
				decided++
			default:
				h.fail("batch result %d on %s: %v", k, c.procs[node].id, o)
				h.lost(ids[k])
			}
		}
		return decided
	}
	lostAll()
	return 0
}

// mustSubmit submits and fails the test unless the outcome is decided with
// the wanted status.
func (c *e2eCluster) mustSubmit(h *history, ins map[string]any, start int, want string) outcome {
	c.t.Helper()
	o, ok := c.submit(h, ins, start)
	if !ok {
		c.t.Fatalf("%s: no decided outcome after %d tries; failures: %v", ins["id"], e2eSubmitAttempts, h.failures)
	}
	if o.Status != want {
		c.t.Fatalf("%s: %v, want %s", ins["id"], o, want)
	}
	return o
}

// begin starts every node, waits for them to agree on a leader and sets
// the workload up through it (setup); it returns the leader and the history
// the test goes on recording into.
func (c *e2eCluster) begin() (leader int, h *history) {
	c.t.Helper()
	c.startAll()
	leader = c.waitLeader(c.all(), e2eStartTimeout)
	h = newHistory()
	c.setup(h, leader)
	return leader, h
}

// setup registers a custodian, an issuer and e2eInvestors retail investors,
// creates a registered security ACME and a cash instrument USD, and mints
// both to every investor, each step through node start with retries.
func (c *e2eCluster) setup(h *history, start int) {
	c.t.Helper()
	n := 0
	step := func(ins map[string]any) {
		n++
		ins["id"] = fmt.Sprintf("setup-%d", n)
		c.mustSubmit(h, ins, start, "accepted")
	}
	step(map[string]any{"type": "register_party", "party": map[string]any{"id": "cus", "role": "custodian"}})
	step(map[string]any{"type": "register_party", "party": map[string]any{"id": "iss", "role": "issuer"}})
	for k := range e2eInvestors {
		step(map[string]any{"type": "register_party", "party": map[string]any{"id": investor(k), "role": "investor",
			"status": "retail", "jurisdiction": "US", "kyc_expires_at": "2099-01-01T00:00:00Z", "custodian": "cus"}})
	}
	step(map[string]any{"type": "create_instrument", "instrument": map[string]any{
		"symbol": "ACME", "name": "Acme common", "issuer": "iss", "decimals": 0, "regime": "registered",
		"attributes": map[string]any{"underlying": "enterprise_equity", "payoff": "linear", "embedded_leverage": "1",
			"expiry_days": 0, "economic_purpose": "capital_formation"}}})
	step(map[string]any{"type": "create_instrument", "instrument": map[string]any{
		"symbol": "USD", "name": "US dollar", "issuer": "iss", "decimals": 2, "regime": "unrestricted",
		"attributes": map[string]any{"underlying": "cash", "payoff": "linear", "embedded_leverage": "1",
			"expiry_days": 0, "economic_purpose": "payment"}}})
	for k := range e2eInvestors {
		step(map[string]any{"type": "mint", "symbol": "ACME", "to": investor(k), "amount": e2eMintACME})
		step(map[string]any{"type": "mint", "symbol": "USD", "to": investor(k), "amount": e2eMintUSD})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sym, each := range map[string]string{"ACME": e2eMintACME, "USD": e2eMintUSD} {
		total := new(big.Rat)
		for range e2eInvestors {
			total.Add(total, rat(each))
		}
		h.minted[sym] = total
	}
}

// transferOp returns a workload transfer with id: cash between two investors,
// or (one in three) delivery versus payment, ACME one way and USD the other,
// all legs or none.
func transferOp(rng *rand.Rand, id string) map[string]any {
	a := rng.IntN(e2eInvestors)
	b := (a + 1 + rng.IntN(e2eInvestors-1)) % e2eInvestors
	cents := fmt.Sprintf("%d.%02d", 1+rng.IntN(20), rng.IntN(100))
	legs := []map[string]any{{"symbol": "USD", "from": investor(a), "to": investor(b), "amount": cents}}
	if rng.IntN(3) == 0 {
		legs = []map[string]any{
			{"symbol": "ACME", "from": investor(a), "to": investor(b), "amount": fmt.Sprint(1 + rng.IntN(3))},
			{"symbol": "USD", "from": investor(b), "to": investor(a), "amount": cents},
		}
	}
	return map[string]any{"id": id, "type": "transfer", "legs": legs}
}

// writers are concurrent clients sending unique-id transfers to random nodes
// until halted or maxOps each.
type writers struct {
	c       *e2eCluster
	h       *history
	stop    chan struct{}
	wg      sync.WaitGroup
	decided atomic.Int64 // instructions with a decided outcome
}

// startWriters starts n writers; their ids start with prefix, their choices
// come from seed (logged, so a run's choices can be reproduced). One
// request in e2eBatchEvery is a batch of e2eBatchSize transfers.
func (c *e2eCluster) startWriters(h *history, prefix string, n, maxOps int, seed uint64) *writers {
	c.t.Helper()
	c.t.Logf("writers %s: %d clients, at most %d instructions each, seed %d", prefix, n, maxOps, seed)
	w := &writers{c: c, h: h, stop: make(chan struct{})}
	for k := range n {
		rng := rand.New(rand.NewPCG(seed, uint64(k)))
		w.wg.Go(func() {
			for op := range maxOps {
				select {
				case <-w.stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d", prefix, k, op)
				size := 1
				if rng.IntN(e2eBatchEvery) == 0 {
					size = e2eBatchSize
				}
				inss := make([]map[string]any, size)
				h.mu.Lock()
				for b := range inss {
					inss[b] = transferOp(rng, fmt.Sprintf("%s-%d", id, b))
					h.writes[inss[b]["id"].(string)] = true
				}
				h.mu.Unlock()
				start := rng.IntN(len(c.procs))
				if size == 1 {
					if _, ok := c.submit(h, inss[0], start); ok {
						w.decided.Add(1)
					}
				} else {
					w.decided.Add(int64(c.submitBatch(h, inss, start)))
				}
			}
		})
	}
	return w
}

// waitDecided waits until the writers have decided at least n more
// instructions than they had when it was called.
func (w *writers) waitDecided(n int64, timeout time.Duration, what string) {
	w.c.t.Helper()
	target := w.decided.Load() + n
	waitFor(w.c.t, timeout, what, func() (bool, string) {
		got := w.decided.Load()
		return got >= target, fmt.Sprintf("%d of %d decided", got, target)
	})
}

// halt stops the writers and waits for them; each finishes its current
// instruction, whose retries are bounded.
func (w *writers) halt() {
	w.c.t.Helper()
	close(w.stop)
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	limit := time.Duration(e2eSubmitAttempts) * (e2eRequestTimeout + e2eRetryDelayMax)
	select {
	case <-done:
	case <-time.After(limit):
		w.c.t.Fatalf("writers did not stop within %s", limit)
	}
}

// entry is one journal entry as served.
type entry struct {
	Seq         uint64          `json:"seq"`
	Index       uint64          `json:"index"`
	Status      string          `json:"status"`
	Instruction json.RawMessage `json:"instruction"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
}

// instruction is the part of a journaled instruction the checks read.
type instruction struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Symbol string `json:"symbol"`
	To     string `json:"to"`
	Amount string `json:"amount"`
	Legs   []struct {
		Symbol string `json:"symbol"`
		From   string `json:"from"`
		To     string `json:"to"`
		Amount string `json:"amount"`
	} `json:"legs"`
}

// journal reads node i's whole journal, page by page along `next`.
func (c *e2eCluster) journal(i int) ([]entry, error) {
	var all []entry
	after := uint64(0)
	for range e2eMaxJournalPages {
		var page struct {
			Entries []entry `json:"entries"`
			Next    uint64  `json:"next"`
		}
		if err := c.getJSON(i, fmt.Sprintf("/v1/journal?after=%d&limit=1000", after), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Entries...)
		if page.Next == 0 {
			return all, nil
		}
		if page.Next <= after {
			return nil, fmt.Errorf("%s journal: next %d does not advance past %d", c.procs[i].id, page.Next, after)
		}
		after = page.Next
	}
	return nil, fmt.Errorf("%s journal: more than %d pages", c.procs[i].id, e2eMaxJournalPages)
}

// verify is GET /v1/journal/verify.
type verify struct {
	OK       bool   `json:"ok"`
	Length   uint64 `json:"length"`
	Head     string `json:"head"`
	FirstBad uint64 `json:"first_bad"`
	Message  string `json:"message"`
}

// waitConverged waits until every node in nodes has applied the same raft
// index and verifies the same journal, and returns that verification. A
// node's applied_index counts the entries its ledger reflects; the leader's
// commit_index also counts no-op and barrier entries, which the ledger never
// sees, so applied_index is what can be compared across nodes.
func (c *e2eCluster) waitConverged(nodes []int) verify {
	c.t.Helper()
	var v verify
	waitFor(c.t, e2eConvergeTimeout, fmt.Sprintf("%v to converge", c.ids(nodes)), func() (bool, string) {
		var first verify
		var applied uint64
		for k, i := range nodes {
			s, err := c.status(i)
			if err != nil {
				return false, err.Error()
			}
			var got verify
			if err := c.getJSON(i, "/v1/journal/verify", &got); err != nil {
				return false, err.Error()
			}
			if !got.OK {
				return false, fmt.Sprintf("%s journal does not verify: %+v", c.procs[i].id, got)
			}
			if k == 0 {
				first, applied = got, s.AppliedIndex
				continue
			}
			if got != first || s.AppliedIndex != applied {
				return false, fmt.Sprintf("%s at applied %d %+v, %s at applied %d %+v",
					c.procs[nodes[0]].id, applied, first, c.procs[i].id, s.AppliedIndex, got)
			}
		}
		v = first
		return true, ""
	})
	return v
}

// checkHistory waits for nodes to converge and checks the whole history
// against each node's journal and cap tables.
func (c *e2eCluster) checkHistory(h *history, nodes []int) {
	c.t.Helper()
	t := c.t
	v := c.waitConverged(nodes)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.failures {
		t.Errorf("unexpected answer: %s", f)
	}
	var reference []entry
	for _, i := range nodes {
		id := c.procs[i].id
		entries, err := c.journal(i)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(entries)) != v.Length {
			t.Errorf("%s journal has %d entries, verify says %d", id, len(entries), v.Length)
		}
		checkChain(t, id, entries, v.Head)
		if reference == nil {
			reference = entries
			continue
		}
		for k := range min(len(entries), len(reference)) {
			if entries[k].Hash != reference[k].Hash {
				t.Errorf("journals differ at seq %d: %s has %s, %s has %s",
					entries[k].Seq, c.procs[nodes[0]].id, reference[k].Hash, id, entries[k].Hash)
				break
			}
		}
	}
	landed := checkIDs(t, h, reference)
	c.checkOutcomes(h, nodes, landed)
	model := replay(t, reference)
	for _, i := range nodes {
		c.checkHoldings(h, i, model)
	}
	var unknownLanded int
	for id := range h.unknown {
		if _, ok := landed[id]; ok {
			unknownLanded++
		}
	}
	t.Logf("history: %d acknowledged, %d unknown (%d of them applied), journal %d entries, head %.12s",
		len(h.acked), len(h.unknown), unknownLanded, v.Length, v.Head)
}

// checkChain checks seqs run 1..n and each prev_hash is the previous hash.
func checkChain(t testingT, node string, entries []entry, head string) {
	t.Helper()
	prev := strings.Repeat("0", 64)
	for k, e := range entries {
		if e.Seq != uint64(k+1) {
			t.Errorf("%s journal: entry %d has seq %d", node, k, e.Seq)
			return
		}
		if e.PrevHash != prev {
			t.Errorf("%s journal: seq %d prev_hash %.12s, want %.12s", node, e.Seq, e.PrevHash, prev)
			return
		}
		prev = e.Hash
	}
	if len(entries) > 0 && prev != head {
		t.Errorf("%s journal: last hash %.12s, verify head %.12s", node, prev, head)
	}
}

// checkIDs checks the set property over one journal: each acknowledged id
// exactly once with the outcome its client was told, no id twice, nothing
// never attempted. It returns the entry of each id present. h.mu is held.
func checkIDs(t testingT, h *history, entries []entry) map[string]entry {
	t.Helper()
	seen := map[string]entry{}
	for _, e := range entries {
		var ins instruction
		err := json.Unmarshal(e.Instruction, &ins)
		if err == nil && (ins.Type == "create_key" || ins.Type == "revoke_key") {
			continue // a key event (each node's bootstrap key), not an instruction
		}
		if err != nil || ins.ID == "" {
			t.Errorf("journal seq %d: instruction without id (%v): %s", e.Seq, err, e.Instruction)
			continue
		}
		if first, dup := seen[ins.ID]; dup {
			t.Errorf("instruction %s applied twice: seq %d and seq %d", ins.ID, first.Seq, e.Seq)
			continue
		}
		seen[ins.ID] = e
		if !h.attempted[ins.ID] {
			t.Errorf("journal seq %d holds %s, which the test never sent", e.Seq, ins.ID)
		}
	}
	for id, o := range h.acked {
		e, ok := seen[id]
		switch {
		case !ok:
			t.Errorf("acknowledged %v is not in the journal: lost", o)
		case e.Seq != o.Seq || e.Index != o.Index || e.Status != o.Status:
			t.Errorf("acknowledged %v, journal has seq %d index %d %s", o, e.Seq, e.Index, e.Status)
		case h.writes[id] && o.Status != "accepted":
			t.Errorf("workload transfer %v was refused; balances were ample", o)
		}
	}
	return seen
}

// checkOutcomes asks the nodes, in turn, for the recorded outcome of every
// id the test attempted (GET /v1/instructions/{id}): the one in the journal,
// or 404 for an id that never landed, so the id index the retries rely on
// agrees with the journal. h.mu is held.
func (c *e2eCluster) checkOutcomes(h *history, nodes []int, landed map[string]entry) {
	c.t.Helper()
	ids := make([]string, 0, len(h.attempted))
	for id := range h.attempted {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for k, id := range ids {
		i := nodes[k%len(nodes)]
		status, body, err := c.request(context.Background(), i, http.MethodGet, "/v1/instructions/"+id, nil, e2ePollTimeout)
		if err != nil {
			c.t.Errorf("GET /v1/instructions/%s on %s: %v", id, c.procs[i].id, err)
			continue
		}
		e, ok := landed[id]
		if !ok {
			if status != http.StatusNotFound {
				c.t.Errorf("%s: %s is not in the journal, but GET answers %d %.200s", c.procs[i].id, id, status, body)
			}
			continue
		}
		var o outcome
		if status != http.StatusOK || json.Unmarshal(body, &o) != nil || o.Seq != e.Seq || o.Index != e.Index || o.Status != e.Status {
			c.t.Errorf("%s: GET %s answers %d %.200s, journal has seq %d index %d %s", c.procs[i].id, id, status, body, e.Seq, e.Index, e.Status)
		}
	}
}

// replay folds the accepted mints and transfers of a journal into balances:
// symbol → party → balance.
func replay(t testingT, entries []entry) map[string]map[string]*big.Rat {
	t.Helper()
	model := map[string]map[string]*big.Rat{}
	move := func(seq uint64, symbol, party, amount string, sign int) {
		a, ok := new(big.Rat).SetString(amount)
		if !ok {
			t.Errorf("journal seq %d: amount %q", seq, amount)
			return
		}
		if model[symbol] == nil {
			model[symbol] = map[string]*big.Rat{}
		}
		if model[symbol][party] == nil {
			model[symbol][party] = new(big.Rat)
		}
		if sign < 0 {
			a.Neg(a)
		}
		model[symbol][party].Add(model[symbol][party], a)
	}
	for _, e := range entries {
		if e.Status != "accepted" {
			continue
		}
		var ins instruction
		if err := json.Unmarshal(e.Instruction, &ins); err != nil {
			continue // reported by checkIDs
		}
		switch ins.Type {
		case "register_party", "create_instrument":
		case "create_key", "revoke_key": // key events move nothing
		case "mint":
			move(e.Seq, ins.Symbol, ins.To, ins.Amount, +1)
		case "transfer":
			for _, l := range ins.Legs {
				move(e.Seq, l.Symbol, l.From, l.Amount, -1)
				move(e.Seq, l.Symbol, l.To, l.Amount, +1)
			}
		default:
			t.Errorf("journal seq %d: the workload never sends %s", e.Seq, ins.Type)
		}
	}
	return model
}

// checkHoldings checks node i's cap tables: holders sum to supply, supply is
// what was minted (transfers conserve it), no balance is negative, and every
// balance is the journal's fold. h.mu is held.
func (c *e2eCluster) checkHoldings(h *history, i int, model map[string]map[string]*big.Rat) {
	c.t.Helper()
	t := c.t
	id := c.procs[i].id
	for _, sym := range e2eSymbols {
		var table struct {
			Supply  string `json:"supply"`
			Holders []struct {
				Party   string `json:"party"`
				Balance string `json:"balance"`
			} `json:"holders"`
		}
		if err := c.getJSON(i, "/v1/instruments/"+sym+"/holders", &table); err != nil {
			t.Error(err)
			continue
		}
		sum := new(big.Rat)
		got := map[string]*big.Rat{}
		for _, hd := range table.Holders {
			b, ok := new(big.Rat).SetString(hd.Balance)
			if !ok || b.Sign() < 0 {
				t.Errorf("%s %s: %s holds %q", id, sym, hd.Party, hd.Balance)
				continue
			}
			sum.Add(sum, b)
			if b.Sign() != 0 {
				got[hd.Party] = b
			}
		}
		supply, ok := new(big.Rat).SetString(table.Supply)
		switch {
		case !ok:
			t.Errorf("%s %s: supply %q", id, sym, table.Supply)
		case sum.Cmp(supply) != 0:
			t.Errorf("%s %s: holders sum to %s, supply is %s", id, sym, decimal(sum), table.Supply)
		case supply.Cmp(h.minted[sym]) != 0:
			t.Errorf("%s %s: supply %s, minted %s", id, sym, table.Supply, decimal(h.minted[sym]))
		}
		for party, want := range model[sym] {
			g := got[party]
			if (g == nil && want.Sign() != 0) || (g != nil && g.Cmp(want) != 0) {
				t.Errorf("%s %s: %s holds %s, the journal says %s", id, sym, party, decimal(g), decimal(want))
			}
		}
		for party, g := range got {
			if model[sym][party] == nil {
				t.Errorf("%s %s: %s holds %s, the journal gave it nothing", id, sym, party, decimal(g))
			}
		}
	}
}

// rat parses a decimal the test wrote itself; anything else is a bug in the
// test.
func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(fmt.Sprintf("not a decimal: %q", s))
	}
	return r
}

// decimal renders r with the instruments' two decimals; nil is none.
func decimal(r *big.Rat) string {
	if r == nil {
		return "none"
	}
	return r.FloatString(2)
}

// testingT is the part of testing.TB the checks use.
type testingT interface {
	Helper()
	Errorf(format string, args ...any)
}
