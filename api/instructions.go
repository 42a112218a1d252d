package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// statusError is the status of a batch result that was not decided: it failed
// decoding or authorization, or its id was reused.
const statusError = "error"

// decodeChunk is how many instructions of a batch one decoding goroutine
// takes at a time; batches smaller than two chunks decode on the request's own
// goroutine.
const decodeChunk = 256

// outcomeBody is an instruction's outcome as answered: API.md's outcome, and
// in a batch also the "error" results.
type outcomeBody struct {
	ID      string               `json:"id"`
	Status  string               `json:"status"`
	Index   uint64               `json:"index,omitempty"`
	Seq     uint64               `json:"seq,omitempty"`
	Reason  *eligibility.Reason  `json:"reason,omitempty"`
	Reasons []eligibility.Reason `json:"reasons,omitempty"`
	Error   *errorDetail         `json:"error,omitempty"`
	// CorporateAction summarises an accepted distribute or split.
	CorporateAction *ledger.CorporateActionSummary `json:"corporate_action,omitempty"`
}

// outcomeBodyOf renders a decided outcome. id fills in outcomes that carry
// none (an Error outcome).
func outcomeBodyOf(id string, o ledger.Outcome) outcomeBody {
	b := outcomeBody{ID: o.ID, Status: o.Status, Index: o.Index, Seq: o.Seq, Reason: o.Reason, Reasons: o.Reasons, CorporateAction: o.CorporateAction}
	if b.ID == "" {
		b.ID = id
	}
	if o.Error != nil {
		_, code, message := outcomeError(o.Error)
		b.Status, b.Error = statusError, &errorDetail{Code: code, Message: message}
	}
	return b
}

// outcomeError maps a ledger.OpError: the item was not decided.
func outcomeError(e *ledger.OpError) (int, Code, string) {
	switch e.Code {
	case ledger.ErrCodeIDReused:
		return http.StatusConflict, CodeIDReused, e.Message
	case ledger.ErrCodeMalformed:
		return http.StatusBadRequest, CodeMalformed, e.Message
	case ledger.ErrCodeNotFound:
		return http.StatusNotFound, CodeNotFound, e.Message
	case ledger.ErrCodeNotAuthorized:
		return http.StatusForbidden, CodeNotAuthorized, e.Message
	case ledger.ErrCodeUnauthenticated:
		return http.StatusUnauthorized, CodeUnauthenticated, e.Message
	}
	return http.StatusInternalServerError, CodeInternal, "internal error; the cause is in the node's log"
}

// admitOne reads, decodes and admits the one instruction of a request body:
// the common front of POST /v1/instructions and POST /v1/check, so a dry run
// refuses exactly what a write would before proposing.
func (s *Server) admitOne(c echo.Context) (principal, transfer.Instruction, error) {
	body, err := s.readBody(c)
	if err != nil {
		return principal{}, transfer.Instruction{}, err
	}
	ins, err := decode(body)
	if err != nil {
		return principal{}, transfer.Instruction{}, err
	}
	p := who(c)
	errs := []error{nil}
	if err := s.admit(p, []transfer.Instruction{ins}, errs); err != nil {
		return principal{}, transfer.Instruction{}, err
	}
	if errs[0] != nil {
		return principal{}, transfer.Instruction{}, errs[0]
	}
	return p, ins, nil
}

// decode decodes one instruction strictly. transfer.DecodeEncoded is
// transfer.Decode at a third of the cost for a body already in canonical
// form, as clients that follow API.md's field order send; its encoding is
// not needed here, since the Replicator encodes what it proposes.
func decode(body []byte) (transfer.Instruction, error) {
	ins, _, err := transfer.DecodeEncoded(body)
	return ins, err
}

// submitInstruction is POST /v1/instructions: 200 accepted, 422 rejected.
func (s *Server) submitInstruction(c echo.Context) error {
	if _, err := query(c); err != nil {
		return err
	}
	p, ins, err := s.admitOne(c)
	if err != nil {
		return err
	}
	outs, err := s.submit(c, p, []transfer.Instruction{ins})
	if err != nil {
		return err
	}
	o := outs[0]
	if o.Error != nil {
		s.metrics.outcome(statusError, o.Error.Code)
		status, code, message := outcomeError(o.Error)
		if status == http.StatusInternalServerError {
			return fmt.Errorf("outcome of %s: unexpected error code %s: %s", ins.ID, o.Error.Code, o.Error.Message)
		}
		return newError(status, code, message)
	}
	s.metrics.decided(o)
	status := http.StatusOK
	switch o.Status {
	case ledger.StatusRejected:
		status = http.StatusUnprocessableEntity
	case ledger.StatusPending:
		status = http.StatusAccepted // held for a second party's approval
	}
	return writeOutcome(c, status, outcomeBodyOf(ins.ID, o))
}

// writeOutcome writes one outcome body. One without a reason or an error,
// as every accepted write's is, has exactly the JSON of the ledger's
// outcome with the same fields, which ledger.EncodeOutcome writes without
// reflection; TestOutcomeBodyJSON holds the two to the same bytes.
func writeOutcome(c echo.Context, status int, b outcomeBody) error {
	if b.Reason != nil || len(b.Reasons) > 0 || b.Error != nil || b.ID == "" || b.CorporateAction != nil {
		return writeJSON(c, status, b)
	}
	o := ledger.Outcome{ID: b.ID, Status: b.Status, Index: b.Index, Seq: b.Seq}
	return c.Blob(status, echo.MIMEApplicationJSON, ledger.EncodeOutcome(o))
}

// batchRequest is POST /v1/instructions/batch.
type batchRequest struct {
	Instructions []json.RawMessage `json:"instructions"`
}

// batchResponse answers a batch: one result per instruction, in order.
type batchResponse struct {
	Results []outcomeBody `json:"results"`
}

// submitBatch is POST /v1/instructions/batch. Each instruction is decided on
// its own: one that fails decoding or authorization gets its error result in
// place, and all the others go to the cluster in one proposal.
func (s *Server) submitBatch(c echo.Context) error {
	if _, err := query(c); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var req batchRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	n := len(req.Instructions)
	switch {
	case n > MaxBatchInstructions:
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("a batch holds at most %d instructions, this one %d", MaxBatchInstructions, n))
	case n == 0:
		return invalid(fmt.Sprintf("instructions must hold 1 to %d instructions", MaxBatchInstructions))
	}
	inss, errs := decodeAll(req.Instructions)
	p := who(c)
	if err := s.admit(p, inss, errs); err != nil {
		return err
	}
	admitted := make([]transfer.Instruction, 0, n)
	for i := range inss {
		if errs[i] == nil {
			admitted = append(admitted, inss[i])
		}
	}
	var outs []ledger.Outcome
	if len(admitted) > 0 {
		if outs, err = s.submit(c, p, admitted); err != nil {
			return err
		}
	}
	results := make([]outcomeBody, n)
	next := 0
	for i := range inss {
		if errs[i] != nil {
			results[i] = s.errorResult(c, bestEffortID(inss[i], req.Instructions[i]), errs[i])
			continue
		}
		o := outs[next]
		next++
		if o.Error != nil {
			s.metrics.outcome(statusError, o.Error.Code)
		} else {
			s.metrics.decided(o)
		}
		results[i] = outcomeBodyOf(inss[i].ID, o)
	}
	assert(next == len(outs), "batch used %d of %d outcomes", next, len(outs))
	return writeJSON(c, http.StatusOK, batchResponse{Results: results})
}

// errorResult renders an instruction refused before proposing as a batch result.
func (s *Server) errorResult(c echo.Context, id string, err error) outcomeBody {
	_, code, message, fault := errorResponse(err)
	if fault {
		s.log.Error("batch instruction failed", keyRoute, c.Path(), keyError, err)
	}
	s.metrics.outcome(statusError, string(code))
	return outcomeBody{ID: id, Status: statusError, Error: &errorDetail{Code: code, Message: message}}
}

// bestEffortID is the id to show with a refused instruction: the decoded one,
// else the raw "id" if it is a valid id, else none.
func bestEffortID(ins transfer.Instruction, raw json.RawMessage) string {
	if ins.ID != "" {
		return ins.ID
	}
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	var id string
	if json.Unmarshal(raw, &v) == nil && json.Unmarshal(v.ID, &id) == nil && transfer.ValidID(id) {
		return id
	}
	return ""
}

// decodeAll decodes a batch's instructions; a large batch on up to
// GOMAXPROCS goroutines, each taking decodeChunk instructions at a time, all
// finished before it returns. errs[i] is set where raws[i] does not decode.
func decodeAll(raws []json.RawMessage) ([]transfer.Instruction, []error) {
	n := len(raws)
	inss := make([]transfer.Instruction, n)
	errs := make([]error, n)
	decodeRange := func(from, to int) {
		for i := from; i < to; i++ {
			inss[i], errs[i] = decode(raws[i])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), n/decodeChunk)
	if workers < 2 {
		decodeRange(0, n)
		return inss, errs
	}
	var claimed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				from := int(claimed.Add(decodeChunk)) - decodeChunk
				if from >= n {
					return
				}
				decodeRange(from, min(from+decodeChunk, n))
			}
		})
	}
	wg.Wait()
	return inss, errs
}

// admit runs, for every instruction whose errs entry is nil, the checks that
// can refuse it before anything is proposed, and records the refusal in errs:
// 403 when the actor's role may never submit the type or transfer.Authorize
// refuses it on the local state, 400 BAD_AMOUNT when an amount does not fit
// its instrument. All run against one snapshot of the local state. The
// returned error is a failure to read that state.
func (s *Server) admit(p principal, inss []transfer.Instruction, errs []error) error {
	assert(len(inss) == len(errs), "admit: %d instructions, %d errors", len(inss), len(errs))
	pending := false
	for i, ins := range inss {
		if errs[i] != nil {
			continue
		}
		if !transfer.MayEverSubmit(p.role(), ins.Type) {
			errs[i] = notAuthorized(fmt.Sprintf("a party of role %s may not submit %s", p.role(), ins.Type))
			continue
		}
		pending = true
	}
	if !pending {
		return nil
	}
	err := s.reader.View(func(v transfer.View) error {
		for i, ins := range inss {
			if errs[i] != nil {
				continue
			}
			if r := transfer.Authorize(v, p.id(), ins); r != nil {
				errs[i] = notAuthorized(r.Message)
				continue
			}
			errs[i] = transfer.CheckAmounts(v, ins)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read state for admission: %w", err)
	}
	return nil
}

// submit replicates the instructions, submitted by p, in one proposal and
// returns their outcomes in order.
func (s *Server) submit(c echo.Context, p principal, inss []transfer.Instruction) ([]ledger.Outcome, error) {
	outs, err := s.repl.Submit(c.Request().Context(), p.id(), p.keyID, inss)
	if err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	if len(outs) != len(inss) {
		return nil, fmt.Errorf("submit: %d outcomes for %d instructions", len(outs), len(inss))
	}
	return outs, nil
}

// check is POST /v1/check: the outcome the instruction would have now, without
// index or seq, applying nothing. It refuses what POST /v1/instructions would
// refuse before proposing (400, 403) in the same way. The id is not looked up:
// a dry run of an id already used answers as if it were new.
func (s *Server) check(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	p, ins, err := s.admitOne(c)
	if err != nil {
		return err
	}
	o, err := s.reader.DryRun(p.id(), ins, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	o.Index, o.Seq = 0, 0
	return writeJSON(c, http.StatusOK, outcomeBodyOf(ins.ID, o))
}
