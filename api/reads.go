package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// Values of ?consistency=.
const (
	consistencyLocal  = "local"
	consistencyStrong = "strong"
)

// readQuery validates the query parameters of a read and, for
// ?consistency=strong, waits until the local state includes every write
// committed before the request (the leader confirms it still leads).
func (s *Server) readQuery(c echo.Context, known ...string) (map[string]string, error) {
	q, err := query(c, known...)
	if err != nil {
		return nil, err
	}
	switch q["consistency"] {
	case "", consistencyLocal:
		return q, nil
	case consistencyStrong:
		if err := s.repl.ReadIndex(c.Request().Context()); err != nil {
			return nil, fmt.Errorf("strong read: %w", err)
		}
		return q, nil
	}
	return nil, invalid("consistency must be local or strong")
}

// readErr keeps ledger.ErrNotFound (404) and wraps anything else as a fault.
func readErr(what string, err error) error {
	if errors.Is(err, ledger.ErrNotFound) {
		return notFound(what + " not found")
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// partiesBody is GET /v1/parties (an extension): the parties the caller may see.
type partiesBody struct {
	Parties []transfer.Party `json:"parties"`
}

func (s *Server) listParties(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	all, err := s.reader.Parties()
	if err != nil {
		return readErr("parties", err)
	}
	return writeJSON(c, http.StatusOK, partiesBody{Parties: visibleParties(who(c), all)})
}

func (s *Server) getParty(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	id := c.Param("id")
	if err := s.mayReadParty(who(c), id); err != nil {
		return err
	}
	p, err := s.reader.Party(id)
	if err != nil {
		return readErr("party "+id, err)
	}
	return writeJSON(c, http.StatusOK, p)
}

func (s *Server) getHoldings(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	id := c.Param("id")
	if err := s.mayReadParty(who(c), id); err != nil {
		return err
	}
	h, err := s.reader.PartyHoldings(id, s.cfg.Now())
	if err != nil {
		return readErr("party "+id, err)
	}
	return writeJSON(c, http.StatusOK, h)
}

// instrumentsBody is GET /v1/instruments.
type instrumentsBody struct {
	Instruments []transfer.Instrument `json:"instruments"`
}

func (s *Server) listInstruments(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	all, err := s.reader.Instruments()
	if err != nil {
		return readErr("instruments", err)
	}
	if all == nil {
		all = []transfer.Instrument{}
	}
	return writeJSON(c, http.StatusOK, instrumentsBody{Instruments: all})
}

func (s *Server) getInstrument(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	symbol := c.Param("symbol")
	in, err := s.reader.Instrument(symbol)
	if err != nil {
		return readErr("instrument "+symbol, err)
	}
	return writeJSON(c, http.StatusOK, in)
}

func (s *Server) getHolders(c echo.Context) error {
	q, err := s.readQuery(c, "at", "after", "limit")
	if err != nil {
		return err
	}
	hq, err := holdersQuery(q)
	if err != nil {
		return err
	}
	hq.Symbol = c.Param("symbol")
	in, err := s.reader.Instrument(hq.Symbol)
	if err != nil {
		return readErr("instrument "+hq.Symbol, err)
	}
	if err := mayReadHolders(who(c), in); err != nil {
		return err
	}
	table, err := s.reader.HoldersPage(hq)
	if errors.Is(err, ledger.ErrSeqAhead) {
		return err // 400 (errorTable)
	}
	if err != nil {
		return readErr("instrument "+hq.Symbol, err)
	}
	return writeJSON(c, http.StatusOK, table)
}

// holdersQuery parses ?at=&after=&limit= of a cap table page: no at means
// now, at=0 before the first entry; limit is 1 to ledger.MaxHoldersPage,
// ledger.DefaultHoldersPage without one.
func holdersQuery(q map[string]string) (ledger.HoldersQuery, error) {
	hq := ledger.HoldersQuery{Limit: ledger.DefaultHoldersPage}
	var err error
	_, at := q["at"]
	hq.Now = !at
	if hq.At, err = queryUint(q, "at"); err != nil {
		return hq, err
	}
	if v, ok := q["after"]; ok {
		if !transfer.ValidID(v) {
			return hq, invalid("after must be a party id, matching [A-Za-z0-9._:-]{1,128}")
		}
		hq.After = v
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ledger.MaxHoldersPage {
			return hq, invalid(fmt.Sprintf("limit must be an integer from 1 to %d", ledger.MaxHoldersPage))
		}
		hq.Limit = n
	}
	return hq, nil
}

func (s *Server) getPrice(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	symbol := c.Param("symbol")
	p, err := s.reader.Price(symbol)
	if err != nil {
		return readErr("price of "+symbol, err)
	}
	return writeJSON(c, http.StatusOK, p)
}

func (s *Server) getJournal(c echo.Context) error {
	q, err := s.readQuery(c, "after", "limit", "party", "symbol")
	if err != nil {
		return err
	}
	jq, err := journalQuery(q)
	if err != nil {
		return err
	}
	if err := s.scopeJournal(who(c), &jq); err != nil {
		return err
	}
	page, err := s.reader.Journal(jq)
	if err != nil {
		return readErr("journal", err)
	}
	return writeJSON(c, http.StatusOK, page)
}

// journalQuery parses ?after=&limit=&party=&symbol=. A limit above
// ledger.MaxJournalPage is served as MaxJournalPage; 0 or none means
// ledger.DefaultJournalPage.
func journalQuery(q map[string]string) (ledger.JournalQuery, error) {
	var jq ledger.JournalQuery
	var err error
	if jq.After, err = queryUint(q, "after"); err != nil {
		return jq, err
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return jq, invalid("limit must be a non-negative integer")
		}
		jq.Limit = min(n, ledger.MaxJournalPage)
	}
	if v, ok := q["party"]; ok {
		if !transfer.ValidID(v) {
			return jq, invalid("party must match [A-Za-z0-9._:-]{1,128}")
		}
		jq.Party = v
	}
	if v, ok := q["symbol"]; ok {
		if !transfer.ValidSymbol(v) {
			return jq, invalid("symbol must match [A-Z0-9][A-Z0-9.-]{0,31}")
		}
		jq.Symbol = v
	}
	return jq, nil
}

func (s *Server) verifyJournal(c echo.Context) error {
	if err := requireRole(who(c), eligibility.RoleOperator, eligibility.RoleAuditor); err != nil {
		return err
	}
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	v, err := s.reader.VerifyJournal()
	if err != nil {
		return readErr("journal", err)
	}
	return writeJSON(c, http.StatusOK, v)
}

// classifyRequest is POST /v1/classify.
type classifyRequest struct {
	Attributes *transfer.AttributesSpec `json:"attributes"`
}

func (s *Server) classify(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var req classifyRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	// Every attribute that applies must be sent, with its type: one left
	// out would read as the plain case (classify.go).
	var raw struct {
		Attributes json.RawMessage `json:"attributes"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return jsonError(err)
	}
	if err := transfer.CheckAttributesJSON("attributes", raw.Attributes); err != nil {
		return err
	}
	attrs, err := req.Attributes.Attributes()
	if err != nil {
		return err
	}
	cl := s.reader.Rulebook().Classify(attrs)
	if cl.Class == "" {
		// Values no class fits are a malformed request, not an answer.
		return newError(http.StatusBadRequest, CodeMalformed, "attributes: "+strings.Join(cl.Reasons, "; "))
	}
	return writeJSON(c, http.StatusOK, cl)
}

// getInstruction is GET /v1/instructions/{id} (an extension): the recorded
// outcome of an instruction, for whoever may read its journal entry. An id the
// caller may not see is as absent as one never used.
func (s *Server) getInstruction(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	id := c.Param("id")
	errAbsent := notFound("no instruction " + id + " that this key may see")
	o, err := s.reader.Outcome(id)
	if errors.Is(err, ledger.ErrNotFound) {
		return errAbsent
	}
	if err != nil {
		return readErr("instruction", err)
	}
	p := who(c)
	if !p.seesEverything() {
		e, err := s.entry(o.Seq)
		if err != nil {
			return err
		}
		ok, err := s.mayReadEntry(p, e)
		if err != nil {
			return err
		}
		if !ok {
			return errAbsent
		}
	}
	// A GET of a recorded outcome succeeds whether the instruction was
	// accepted or rejected; the status is in the body.
	return writeJSON(c, http.StatusOK, outcomeBodyOf(id, o))
}

// entry reads the journal entry with seq.
func (s *Server) entry(seq uint64) (ledger.JournalEntry, error) {
	assert(seq > 0, "recorded outcome without a journal seq")
	page, err := s.reader.Journal(ledger.JournalQuery{After: seq - 1, Limit: 1})
	if err != nil {
		return ledger.JournalEntry{}, readErr("journal", err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Seq != seq {
		return ledger.JournalEntry{}, fmt.Errorf("journal entry %d of a recorded outcome is missing", seq)
	}
	return page.Entries[0], nil
}
