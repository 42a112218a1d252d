package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Party is GET /v1/parties/{id}.
func (c *Client) Party(ctx context.Context, id string) (Party, error) {
	var p Party
	_, err := c.do(ctx, http.MethodGet, "/v1/parties/"+url.PathEscape(id), nil, &p)
	return p, err
}

// Parties is GET /v1/parties: the parties the caller may see.
func (c *Client) Parties(ctx context.Context) ([]Party, error) {
	var out struct {
		Parties []Party `json:"parties"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/parties", nil, &out)
	return out.Parties, err
}

// Holdings is GET /v1/parties/{id}/holdings.
func (c *Client) Holdings(ctx context.Context, party string) (Holdings, error) {
	var h Holdings
	_, err := c.do(ctx, http.MethodGet, "/v1/parties/"+url.PathEscape(party)+"/holdings", nil, &h)
	return h, err
}

// Instruments is GET /v1/instruments.
func (c *Client) Instruments(ctx context.Context) ([]Instrument, error) {
	var out struct {
		Instruments []Instrument `json:"instruments"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/instruments", nil, &out)
	return out.Instruments, err
}

// Instrument is GET /v1/instruments/{symbol}.
func (c *Client) Instrument(ctx context.Context, symbol string) (Instrument, error) {
	var in Instrument
	_, err := c.do(ctx, http.MethodGet, "/v1/instruments/"+url.PathEscape(symbol), nil, &in)
	return in, err
}

// Price is GET /v1/prices/{symbol}.
func (c *Client) Price(ctx context.Context, symbol string) (Price, error) {
	var p Price
	_, err := c.do(ctx, http.MethodGet, "/v1/prices/"+url.PathEscape(symbol), nil, &p)
	return p, err
}

// HoldersPageSize is the page size Holders asks for.
const HoldersPageSize = 1000

// Holders iterates over the cap table of symbol in party-id order, now
// (at 0) or as it stood just after journal entry at. Every page is read
// at the same seq: the first page's seq pins the later ones, so the table
// is one consistent record date even while the ledger moves.
func (c *Client) Holders(ctx context.Context, symbol string, at uint64) iter.Seq2[Holder, error] {
	return func(yield func(Holder, error) bool) {
		after := ""
		for {
			q := url.Values{"limit": {strconv.Itoa(HoldersPageSize)}}
			if at > 0 {
				q.Set("at", strconv.FormatUint(at, 10))
			}
			if after != "" {
				q.Set("after", after)
			}
			var page capTablePage
			if _, err := c.do(ctx, http.MethodGet, "/v1/instruments/"+url.PathEscape(symbol)+"/holders?"+q.Encode(), nil, &page); err != nil {
				yield(Holder{}, err)
				return
			}
			for _, h := range page.Holders {
				if !yield(h, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			after, at = page.Next, page.Seq
		}
	}
}

// CapTable reads a whole cap table; for large registers prefer Holders.
// It returns the seq the table stands at and its supply with the holders.
func (c *Client) CapTable(ctx context.Context, symbol string, at uint64) (seq uint64, holders []Holder, err error) {
	var page capTablePage
	q := url.Values{"limit": {"1"}}
	if at > 0 {
		q.Set("at", strconv.FormatUint(at, 10))
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/instruments/"+url.PathEscape(symbol)+"/holders?"+q.Encode(), nil, &page); err != nil {
		return 0, nil, err
	}
	for h, err := range c.Holders(ctx, symbol, page.Seq) {
		if err != nil {
			return 0, nil, err
		}
		holders = append(holders, h)
	}
	return page.Seq, holders, nil
}

// JournalPageSize is the page size Journal asks for.
const JournalPageSize = 1000

// Journal iterates over the journal entries the caller may see, after
// f.After, filtered by f.Party and f.Symbol, page by page to the current
// end. For entries yet to come use Follow.
func (c *Client) Journal(ctx context.Context, f JournalFilter) iter.Seq2[JournalEntry, error] {
	return func(yield func(JournalEntry, error) bool) {
		after := f.After
		for {
			q := journalQuery(f, after)
			q.Set("limit", strconv.Itoa(JournalPageSize))
			var page journalPage
			if _, err := c.do(ctx, http.MethodGet, "/v1/journal?"+q.Encode(), nil, &page); err != nil {
				yield(JournalEntry{}, err)
				return
			}
			for _, e := range page.Entries {
				if !yield(e, nil) {
					return
				}
			}
			if page.Next == 0 {
				return
			}
			after = page.Next
		}
	}
}

// journalQuery is the query of a journal read after seq.
func journalQuery(f JournalFilter, after uint64) url.Values {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatUint(after, 10))
	}
	if f.Party != "" {
		q.Set("party", f.Party)
	}
	if f.Symbol != "" {
		q.Set("symbol", f.Symbol)
	}
	return q
}

// VerifyJournal is GET /v1/journal/verify (operator, auditor).
func (c *Client) VerifyJournal(ctx context.Context) (Verification, error) {
	var v Verification
	_, err := c.do(ctx, http.MethodGet, "/v1/journal/verify", nil, &v)
	return v, err
}

// Checkpoint is GET /v1/journal/checkpoint: the journal tree's size and
// root in a note signed by the node.
func (c *Client) Checkpoint(ctx context.Context) (Checkpoint, error) {
	var cp Checkpoint
	_, err := c.do(ctx, http.MethodGet, "/v1/journal/checkpoint", nil, &cp)
	return cp, err
}

// InclusionProof is GET /v1/journal/proof/{seq}?size=: that entry seq is in
// the tree of size entries (0: the current size).
func (c *Client) InclusionProof(ctx context.Context, seq, size uint64) (Proof, error) {
	var p Proof
	path := "/v1/journal/proof/" + strconv.FormatUint(seq, 10)
	if size > 0 {
		path += "?size=" + strconv.FormatUint(size, 10)
	}
	_, err := c.do(ctx, http.MethodGet, path, nil, &p)
	return p, err
}

// ConsistencyProof is GET /v1/journal/consistency?from=&to=: that the tree
// of to entries extends the tree of from entries (to 0: the current size).
func (c *Client) ConsistencyProof(ctx context.Context, from, to uint64) (Consistency, error) {
	var p Consistency
	q := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if to > 0 {
		q.Set("to", strconv.FormatUint(to, 10))
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/journal/consistency?"+q.Encode(), nil, &p)
	return p, err
}

// Rulebook is GET /v1/rulebook.
func (c *Client) Rulebook(ctx context.Context) (Rulebook, error) {
	var rb Rulebook
	_, err := c.do(ctx, http.MethodGet, "/v1/rulebook", nil, &rb)
	return rb, err
}

// Cluster is GET /v1/cluster as the preferred node sees it.
func (c *Client) Cluster(ctx context.Context) (ClusterStatus, error) {
	var st ClusterStatus
	_, err := c.do(ctx, http.MethodGet, "/v1/cluster", nil, &st)
	return st, err
}

// Get reads any /v1 path into out, for routes newer than this client
// (GET /v1/margin-calls, control books): out is usually a
// *json.RawMessage or a struct of the caller's.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, nil, out)
	return err
}
