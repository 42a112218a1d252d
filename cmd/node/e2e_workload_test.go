//go:build unix

package main_test

// The workload of the e2e fault tests and its checks. A history records every
// instruction id the test attempted and what came back: a decided outcome
// (200 accepted, 422 rejected: acknowledged), or nothing certain (transport
// error, 503, timeout after bounded retries with the same id: unknown). The
// writes go through the Go client, whose retries resend the same id and
// body; client.IsUnknownOutcome is what tells unknown from decided, and an
// answer that breaks the contract (client.ErrBadAnswer) is a failure. The
// checks are Jepsen's set and bank checks over the journal every node serves:
// every acknowledged id is there exactly once with the outcome the client was
// told, an unknown id at most once, nothing the test never sent; the journal
// chains and is the same on every node; and the cap tables are the fold of
// the journal, sum to supply, and supply is what was minted.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dec "github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/client"
)

const (
	// e2eInvestors is how many investors the workload moves value between.
	e2eInvestors = 6
	// e2eMintUSD and e2eMintACME are each investor's opening balances: far
	// more than the workload can move, so every transfer should be accepted.
	e2eMintUSD  = "100000.00"
	e2eMintACME = "1000"
	// e2eSubmitAttempts bounds the tries of one instruction (same id, next
	// node or the leader each time: the client's retries) before its outcome
	// is recorded as unknown.
	e2eSubmitAttempts = 12
	// e2eFollowLeaderMax is how long the client may spend, after a failed
	// try, asking the node that failed where the leader is.
	e2eFollowLeaderMax = 2 * time.Second
	// e2eBatchEvery and e2eBatchSize: one writer request in e2eBatchEvery is
	// a POST /v1/instructions/batch of e2eBatchSize transfers.
	e2eBatchEvery = 5
	e2eBatchSize  = 4
	// e2eRetryDelayMax is the client's first back-off after a round over
	// every node; it doubles each round, up to the client's 2 s.
	e2eRetryDelayMax = 400 * time.Millisecond
	// e2eSubmitBound bounds one submit with all its tries: a request
	// timeout and a leader look-up each, and the pauses between rounds.
	e2eSubmitBound = e2eSubmitAttempts*(e2eRequestTimeout+e2eFollowLeaderMax) + e2eSubmitAttempts/e2eNodes*2*time.Second
	// e2eMaxJournalPages bounds reading a journal (1000 entries a page).
	e2eMaxJournalPages = 1000
	// e2eConvergeTimeout bounds waiting for every node to hold the same journal.
	e2eConvergeTimeout = 30 * time.Second
)

var e2eSymbols = []string{"ACME", "USD"}

func investor(k int) string { return fmt.Sprintf("inv-%d", k) }

// outcome is an instruction's answer (API.md, Writes).
type outcome = client.Outcome

// describe renders an outcome for a failure message.
func describe(o outcome) string {
	s := fmt.Sprintf("%s %s index=%d seq=%d", o.ID, o.Status, o.Index, o.Seq)
	if o.Reason != nil {
		s += " reason=" + string(o.Reason.Code) + ": " + o.Reason.Message
	}
	if o.Error != nil {
		s += " error=" + string(o.Error.Code) + ": " + o.Error.Message
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
	// resent are the acknowledged ids whose answer came only after a try
	// with no answer or a 503: the client's retries turned an unknown
	// outcome into a decided one, which the journal must bear out.
	resent map[string]bool
}

func newHistory() *history {
	return &history{
		attempted: map[string]bool{}, acked: map[string]outcome{}, unknown: map[string]bool{},
		minted: map[string]*big.Rat{}, writes: map[string]bool{}, resent: map[string]bool{},
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
		h.failures = append(h.failures, fmt.Sprintf("%s answered twice differently: %s, then %s", o.ID, describe(prev), describe(o)))
	}
	h.acked[o.ID] = o
	delete(h.unknown, o.ID)
}

// ackResent is ack for an outcome the client got only by resending.
func (h *history) ackResent(o outcome) {
	h.ack(o)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resent[o.ID] = true
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

// submit sends one instruction with the client, starting at node start; the
// client retries with the same id and body while the outcome is unknown, at
// most e2eSubmitAttempts times. It records the answer in h and returns the
// outcome and whether one was decided.
func (c *e2eCluster) submit(h *history, ins client.Instruction, start int) (outcome, bool) {
	id := ins.ID
	h.attempt(id)
	last, resent := "", false
	cl := c.clientFrom(start, e2eSubmitAttempts, e2eRequestTimeout, func(a client.Attempt) {
		last = a.Node
		resent = resent || client.IsUnknownOutcome(a.Err)
	})
	ctx, cancel := context.WithTimeout(context.Background(), e2eSubmitBound)
	defer cancel()
	o, err := cl.Submit(ctx, ins)
	var rejected *client.RejectedError
	switch {
	case err == nil && o.Status == client.StatusAccepted, errors.As(err, &rejected):
		// Submit checked the status agrees with the outcome and the id is
		// ours (else client.ErrBadAnswer).
		if o.Seq == 0 {
			h.fail("%s on %s: decided without a seq: %s", id, last, describe(o))
			h.lost(id)
			return outcome{}, false
		}
		if resent {
			h.ackResent(o)
		} else {
			h.ack(o)
		}
		return o, true
	case client.IsUnknownOutcome(err):
		h.lost(id)
		return outcome{}, false
	case err == nil:
		h.fail("%s on %s: unexpected outcome %s", id, last, describe(o))
	default:
		h.fail("%s on %s: unexpected answer: %v", id, last, err)
	}
	h.lost(id)
	return outcome{}, false
}

// submitBatch sends instructions in one POST /v1/instructions/batch with the
// client, starting at node start; the client retries the whole batch, same
// ids, while its outcome is unknown, like submit. It records each result in
// h and returns how many were decided.
func (c *e2eCluster) submitBatch(h *history, inss []client.Instruction, start int) int {
	ids := make([]string, len(inss))
	for k, ins := range inss {
		ids[k] = ins.ID
		h.attempt(ids[k])
	}
	lostAll := func() {
		for _, id := range ids {
			h.lost(id)
		}
	}
	last, resent := "", false
	cl := c.clientFrom(start, e2eSubmitAttempts, e2eRequestTimeout, func(a client.Attempt) {
		last = a.Node
		resent = resent || client.IsUnknownOutcome(a.Err)
	})
	ctx, cancel := context.WithTimeout(context.Background(), e2eSubmitBound)
	defer cancel()
	results, err := cl.Batch(ctx, inss)
	if client.IsUnknownOutcome(err) {
		lostAll()
		return 0
	}
	if err != nil {
		h.fail("batch %s..%s on %s: unexpected answer: %v", ids[0], ids[len(ids)-1], last, err)
		lostAll()
		return 0
	}
	decided := 0
	for k, o := range results {
		switch {
		case o.ID != ids[k]:
			h.fail("batch result %d on %s: id %q, want %q", k, last, o.ID, ids[k])
			h.lost(ids[k])
		case (o.Status == client.StatusAccepted || o.Status == client.StatusRejected) && o.Seq > 0:
			if resent {
				h.ackResent(o)
			} else {
				h.ack(o)
			}
			decided++
		default:
			h.fail("batch result %d on %s: %s", k, last, describe(o))
			h.lost(ids[k])
		}
	}
	return decided
}

// mustSubmit submits and fails the test unless the outcome is decided with
// the wanted status.
func (c *e2eCluster) mustSubmit(h *history, ins client.Instruction, start int, want string) outcome {
	c.t.Helper()
	o, ok := c.submit(h, ins, start)
	if !ok {
		c.t.Fatalf("%s: no decided outcome after %d tries; failures: %v", ins.ID, e2eSubmitAttempts, h.failures)
	}
	if o.Status != want {
		c.t.Fatalf("%s: %s, want %s", ins.ID, describe(o), want)
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
	step := func(ins client.Instruction) {
		n++
		ins.ID = fmt.Sprintf("setup-%d", n)
		c.mustSubmit(h, ins, start, client.StatusAccepted)
	}
	kyc := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	one := amount("1")
	step(client.Instruction{Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "cus", Role: "custodian"}})
	step(client.Instruction{Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: "iss", Role: "issuer"}})
	for k := range e2eInvestors {
		step(client.Instruction{Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: investor(k), Role: "investor",
			Status: "retail", Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: "cus"}})
	}
	step(client.Instruction{Type: client.TypeCreateInstrument, Instrument: &client.InstrumentSpec{
		Symbol: "ACME", Name: "Acme common", Issuer: "iss", Decimals: 0, Regime: "registered",
		Attributes: client.Attributes{Underlying: "enterprise_equity", Payoff: "linear", EmbeddedLeverage: &one,
			ExpiryDays: 0, EconomicPurpose: "capital_formation"}}})
	step(client.Instruction{Type: client.TypeCreateInstrument, Instrument: &client.InstrumentSpec{
		Symbol: "USD", Name: "US dollar", Issuer: "iss", Decimals: 2, Regime: "unrestricted",
		Attributes: client.Attributes{Underlying: "cash", Payoff: "linear", EmbeddedLeverage: &one,
			ExpiryDays: 0, EconomicPurpose: "payment"}}})
	acme, usd := amount(e2eMintACME), amount(e2eMintUSD)
	for k := range e2eInvestors {
		step(client.Instruction{Type: client.TypeMint, Symbol: "ACME", To: investor(k), Amount: &acme})
		step(client.Instruction{Type: client.TypeMint, Symbol: "USD", To: investor(k), Amount: &usd})
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
func transferOp(rng *rand.Rand, id string) client.Instruction {
	a := rng.IntN(e2eInvestors)
	b := (a + 1 + rng.IntN(e2eInvestors-1)) % e2eInvestors
	cents := amount(fmt.Sprintf("%d.%02d", 1+rng.IntN(20), rng.IntN(100)))
	legs := []client.Leg{{Symbol: "USD", From: investor(a), To: investor(b), Amount: cents}}
	if rng.IntN(3) == 0 {
		legs = []client.Leg{
			{Symbol: "ACME", From: investor(a), To: investor(b), Amount: amount(fmt.Sprint(1 + rng.IntN(3)))},
			{Symbol: "USD", From: investor(b), To: investor(a), Amount: cents},
		}
	}
	return client.Instruction{ID: id, Type: client.TypeTransfer, Legs: legs}
}

// amount parses a decimal the test wrote itself.
func amount(s string) dec.Decimal { return dec.RequireFromString(s) }

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
				inss := make([]client.Instruction, size)
				h.mu.Lock()
				for b := range inss {
					inss[b] = transferOp(rng, fmt.Sprintf("%s-%d", id, b))
					h.writes[inss[b].ID] = true
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
	limit := e2eSubmitBound + e2eRequestTimeout
	select {
	case <-done:
	case <-time.After(limit):
		w.c.t.Fatalf("writers did not stop within %s", limit)
	}
}

// entry is one journal entry as served.
type entry = client.JournalEntry

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

// journal reads node i's whole journal with the client's iterator, page by
// page along `next`, each page sent once to node i alone.
func (c *e2eCluster) journal(i int) ([]entry, error) {
	var all []entry
	cl := c.nodeClient(i, e2ePollTimeout, nil)
	for e, err := range cl.Journal(context.Background(), client.JournalFilter{}) {
		if err != nil {
			return nil, fmt.Errorf("%s journal after %d entries: %w", c.procs[i].id, len(all), err)
		}
		if n := len(all); n > 0 && e.Seq <= all[n-1].Seq {
			return nil, fmt.Errorf("%s journal: seq %d after seq %d", c.procs[i].id, e.Seq, all[n-1].Seq)
		}
		all = append(all, e)
		if len(all) > e2eMaxJournalPages*client.JournalPageSize {
			return nil, fmt.Errorf("%s journal: more than %d pages", c.procs[i].id, e2eMaxJournalPages)
		}
	}
	return all, nil
}

// verify is GET /v1/journal/verify.
type verify = client.Verification

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
			got, err := c.verifyJournal(i)
			if err != nil {
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

// verifyJournal is node i's verification of its journal, asked once.
func (c *e2eCluster) verifyJournal(i int) (verify, error) {
	var v verify
	status, err := c.onNode(i, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
		var err error
		v, err = cl.VerifyJournal(ctx)
		return err
	})
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("%d, want 200", status)
	}
	if err != nil {
		return verify{}, fmt.Errorf("%s journal verify: %w", c.procs[i].id, err)
	}
	return v, nil
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
	resentLanded := 0
	for id := range h.resent {
		if _, ok := landed[id]; ok {
			resentLanded++
		}
	}
	if resentLanded != len(h.resent) {
		// checkIDs named each; this says they were the resent ones.
		t.Errorf("%d of %d writes acknowledged after a resend are not in the journal", len(h.resent)-resentLanded, len(h.resent))
	}
	t.Logf("history: %d acknowledged (%d of them after a try with no answer or a 503), %d unknown (%d of them applied), journal %d entries, head %.12s",
		len(h.acked), len(h.resent), len(h.unknown), unknownLanded, v.Length, v.Head)
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
			t.Errorf("acknowledged %s is not in the journal: lost", describe(o))
		case e.Seq != o.Seq || e.Index != o.Index || e.Status != o.Status:
			t.Errorf("acknowledged %s, journal has seq %d index %d %s", describe(o), e.Seq, e.Index, e.Status)
		case h.writes[id] && o.Status != "accepted":
			t.Errorf("workload transfer %s was refused; balances were ample", describe(o))
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
		var o outcome
		status, err := c.onNode(i, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
			var err error
			o, err = cl.InstructionOutcome(ctx, id)
			return err
		})
		if status == 0 {
			c.t.Errorf("GET /v1/instructions/%s on %s: %v", id, c.procs[i].id, err)
			continue
		}
		e, ok := landed[id]
		if !ok {
			if status != http.StatusNotFound || !errors.Is(err, client.ErrNotFound) {
				c.t.Errorf("%s: %s is not in the journal, but GET answers %d %s (%v)", c.procs[i].id, id, status, describe(o), err)
			}
			continue
		}
		if err != nil || status != http.StatusOK || o.ID != id || o.Seq != e.Seq || o.Index != e.Index || o.Status != e.Status {
			c.t.Errorf("%s: GET %s answers %d %s (%v), journal has seq %d index %d %s", c.procs[i].id, id, status, describe(o), err, e.Seq, e.Index, e.Status)
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
		var table client.Register
		if _, err := c.onNode(i, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
			var err error
			table, err = cl.Register(ctx, sym, 0)
			return err
		}); err != nil {
			t.Errorf("%s %s cap table: %v", id, sym, err)
			continue
		}
		sum := new(big.Rat)
		got := map[string]*big.Rat{}
		for _, hd := range table.Holders {
			b := hd.Balance.Rat()
			if b.Sign() < 0 {
				t.Errorf("%s %s: %s holds %s", id, sym, hd.Party, hd.Balance)
				continue
			}
			sum.Add(sum, b)
			if b.Sign() != 0 {
				got[hd.Party] = b
			}
		}
		supply := table.Supply.Rat()
		switch {
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
