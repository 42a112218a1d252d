package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/ledger"
)

// getControlBook is GET /v1/instruments/{symbol}/control-book?at=<seq>:
// the instrument's authorized, issued, treasury and outstanding units and
// holders of record, now or just after journal entry at.
func (s *Server) getControlBook(c echo.Context) error {
	q, err := s.readQuery(c, "at")
	if err != nil {
		return err
	}
	_, at := q["at"]
	seq, err := queryUint(q, "at")
	if err != nil {
		return err
	}
	symbol := c.Param("symbol")
	in, err := s.reader.Instrument(symbol)
	if err != nil {
		return readErr("instrument "+symbol, err)
	}
	// The same readers as the cap table it summarises.
	if err := mayReadHolders(who(c), in); err != nil {
		return err
	}
	book, err := s.reader.ControlBook(symbol, seq, !at)
	if errors.Is(err, ledger.ErrSeqAhead) {
		return err // 400 (errorTable)
	}
	if err != nil {
		return readErr("instrument "+symbol, err)
	}
	return writeJSON(c, http.StatusOK, book)
}

// pendingBody is GET /v1/pending.
type pendingBody struct {
	Pending []ledger.PendingInstruction `json:"pending"`
}

// listPending is GET /v1/pending: the instructions held for a second
// party's approval. Operator and auditors see all; any other party those
// it submitted.
func (s *Server) listPending(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	all, err := s.reader.Pending()
	if err != nil {
		return readErr("pending", err)
	}
	p := who(c)
	if !p.seesEverything() {
		mine := all[:0]
		for _, x := range all {
			if x.Actor == p.id() {
				mine = append(mine, x)
			}
		}
		all = mine
	}
	return writeJSON(c, http.StatusOK, pendingBody{Pending: all})
}
