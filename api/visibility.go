package api

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// Who sees what (API.md): an investor its own party, holdings and journal
// entries; a custodian those of its investors (and its own); an issuer its
// instruments and their holders (and its own party and entries); operator and
// auditor everything; anything else is 403 NOT_AUTHORIZED. Instruments, prices,
// the rulebook, classification and cluster status are reference data every
// authenticated party reads: amounts cannot be written without an instrument's
// decimals. The rules live here, in one file, and nowhere in the handlers.

// errNotVisible is the answer for a party, holding or journal slice the
// principal may not see. It is the same whether the party exists or not, so
// ids cannot be probed.
var errNotVisible = notAuthorized("this party's data is visible to the party, its custodian, the operator and auditors only")

// mayReadParty decides whether p may read party id's record and holdings.
func (s *Server) mayReadParty(p principal, id string) error {
	if p.seesEverything() || id == p.id() {
		return nil
	}
	if p.role() != eligibility.RoleCustodian {
		return errNotVisible
	}
	ok, err := s.custodianOf(p.id(), id)
	if err != nil {
		return err
	}
	if !ok {
		return errNotVisible
	}
	return nil
}

// custodianOf reports whether custodian holds investor id's account.
func (s *Server) custodianOf(custodian, id string) (bool, error) {
	q, err := s.reader.Party(id)
	if errors.Is(err, ledger.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read party: %w", err)
	}
	return q.Role == eligibility.RoleInvestor && q.Custodian == custodian, nil
}

// visibleParties filters a party list down to what p may read.
func visibleParties(p principal, all []transfer.Party) []transfer.Party {
	if p.seesEverything() {
		return all
	}
	out := []transfer.Party{}
	for _, q := range all {
		if q.ID == p.id() || (p.role() == eligibility.RoleCustodian && q.Role == eligibility.RoleInvestor && q.Custodian == p.id()) {
			out = append(out, q)
		}
	}
	return out
}

// mayReadHolders decides whether p may read symbol's cap table: operator,
// auditor, or the instrument's issuer. in is the instrument.
func mayReadHolders(p principal, in transfer.Instrument) error {
	if p.seesEverything() || (p.role() == eligibility.RoleIssuer && in.Issuer == p.id()) {
		return nil
	}
	return notAuthorized("a cap table is visible to the instrument's issuer, the operator and auditors only")
}

// scopeJournal narrows a journal query to what p may read, or refuses it.
// Operator and auditor read as asked. An issuer asking by one of its own
// symbols (without a party) reads that symbol's entries. Otherwise a query
// without a party is narrowed to the principal's own entries, and a query
// naming a party needs mayReadParty.
func (s *Server) scopeJournal(p principal, q *ledger.JournalQuery) error {
	if p.seesEverything() {
		return nil
	}
	if q.Party == "" {
		if p.role() == eligibility.RoleIssuer && q.Symbol != "" {
			in, err := s.reader.Instrument(q.Symbol)
			if err != nil && !errors.Is(err, ledger.ErrNotFound) {
				return fmt.Errorf("read instrument: %w", err)
			}
			if err == nil && in.Issuer == p.id() {
				return nil
			}
		}
		q.Party = p.id()
		return nil
	}
	return s.mayReadParty(p, q.Party)
}

// mayReadEntry decides whether p may read a journal entry (and so the outcome
// of its instruction): operator, auditor, its actor, a party it names, or the
// custodian of an investor it names.
func (s *Server) mayReadEntry(p principal, e ledger.JournalEntry) (bool, error) {
	if p.seesEverything() || e.Actor == p.id() || slices.Contains(e.Parties, p.id()) {
		return true, nil
	}
	if p.role() != eligibility.RoleCustodian {
		return false, nil
	}
	for _, id := range e.Parties {
		ok, err := s.custodianOf(p.id(), id)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// mayReadJournalEntry decides whether p may read entry e through GET
// /v1/journal (and so its inclusion proof): as mayReadEntry, or an issuer
// reading an entry that names one of its instruments, which scopeJournal
// serves it by symbol.
func (s *Server) mayReadJournalEntry(p principal, e ledger.JournalEntry) (bool, error) {
	ok, err := s.mayReadEntry(p, e)
	if err != nil || ok || p.role() != eligibility.RoleIssuer {
		return ok, err
	}
	for _, symbol := range e.Symbols {
		in, err := s.reader.Instrument(symbol)
		if errors.Is(err, ledger.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read instrument: %w", err)
		}
		if in.Issuer == p.id() {
			return true, nil
		}
	}
	return false, nil
}
