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
