package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// Code is an error code of a response that is not a rule decision:
// {"error": {"code": ..., "message": ...}}. Codes are public API: add new ones,
// never rename one. Rule decisions (422, and results inside a batch) carry
// eligibility codes instead.
type Code string

// The codes, with their statuses. When an error matches several rows of
// errorTable, the first row wins, so the order below is the precedence.
const (
	// CodeMalformed (400): the body is not JSON of the expected shape (syntax,
	// wrong JSON types, trailing data), or an outcome says the item could not
	// be decoded.
	CodeMalformed Code = "MALFORMED"
	// CodeUnknownField (400): the body has a field the endpoint or instruction
	// type does not know, including a field of another instruction type.
	CodeUnknownField Code = "UNKNOWN_FIELD"
	// CodeBadAmount (400): an amount, price or ratio is not a plain decimal
	// string, is above 10^30, is zero where it must be positive, or has more
	// fraction digits than the instrument's decimals.
	CodeBadAmount Code = "BAD_AMOUNT"
	// CodeInvalid (400): the body is well formed but a value is not acceptable:
	// an id or symbol outside its pattern, a missing required field, an
	// unknown instruction type, a bad query parameter, an empty batch.
	CodeInvalid Code = "INVALID"
	// CodeUnauthenticated (401): no Authorization: Bearer key, or an unknown key.
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	// CodeNotAuthorized (403): the key's party may not do this or see this.
	CodeNotAuthorized Code = "NOT_AUTHORIZED"
	// CodeNotFound (404): no such route, party, instrument, price, instruction
	// or node.
	CodeNotFound Code = "NOT_FOUND"
	// CodeMethodNotAllowed (405): the path exists, the method does not.
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	// CodeIDReused (409): the instruction id was used before with another body
	// (or by another actor), or POST /v1/cluster/nodes names a node id that
	// was removed from the cluster. Nothing was applied.
	CodeIDReused Code = "ID_REUSED"
	// CodeTooLarge (413): the body is above Config.MaxBodyBytes, or a batch
	// holds more than MaxBatchInstructions instructions.
	CodeTooLarge Code = "TOO_LARGE"
	// CodeTooManyRequests (429): the key is missing or unknown, and this
	// address has failed to authenticate too often (AuthFailureBurst, then
	// one per AuthFailureRefill); retry after the Retry-After header's
	// seconds, with a valid key. A valid key is never refused this way.
	CodeTooManyRequests Code = "TOO_MANY_REQUESTS"
	// CodeInternal (500): a fault on the node; the message is generic and the
	// cause is in the node's log.
	CodeInternal Code = "INTERNAL"
	// CodeNoLeader (503): the cluster has no leader; nothing was proposed.
	CodeNoLeader Code = "NO_LEADER"
	// CodeNotLeader (503): a leader-only operation reached another node.
	CodeNotLeader Code = "NOT_LEADER"
	// CodeNotReady (503): the node has not caught up with the cluster since
	// it started; nothing was read or proposed. Retry, here or elsewhere.
	CodeNotReady Code = "NOT_READY"
	// CodeTimeout (503): the request ran out of time; a write's outcome is
	// unknown, so retry it with the same id.
	CodeTimeout Code = "TIMEOUT"
	// CodeNodeFailing (503): the node hit a storage fault (a disk full or
	// failing) and is stopping; nothing was read or proposed here. Retry on
	// another node.
	CodeNodeFailing Code = "NODE_FAILING"
	// CodeOverloaded (503): the leader's queue of proposals stayed full for
	// the whole request; nothing was proposed. Retry with the same id after
	// the Retry-After header's seconds.
	CodeOverloaded Code = "OVERLOADED"
	// CodeCorporateActionRunning (409): the proof of a corporate action's
	// line was asked for before the action completed; its lines have no
	// root yet. (Instructions refused while a split runs carry the reason
	// code of the same name, 422.)
	CodeCorporateActionRunning Code = "CORPORATE_ACTION_RUNNING"
)

// retryAfterSeconds is the Retry-After of a 503 that asks the client to come
// back (OVERLOADED, NOT_READY): a second lets a queue drain or a node catch
// up, and is short against a request's own time-out.
const retryAfterSeconds = "1"

// Error is an error with its response already decided. Handlers return it for
// conditions they detect themselves; everything else goes through errorTable.
type Error struct {
	Status  int
	Code    Code
	Message string
}

func (e *Error) Error() string { return "api: " + string(e.Code) + ": " + e.Message }

func newError(status int, code Code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

func invalid(message string) *Error { return newError(http.StatusBadRequest, CodeInvalid, message) }

func notAuthorized(message string) *Error {
	return newError(http.StatusForbidden, CodeNotAuthorized, message)
}

func notFound(message string) *Error { return newError(http.StatusNotFound, CodeNotFound, message) }

// errNodeFailing answers every request of a node that is stopping after a
// storage fault.
var errNodeFailing = newError(http.StatusServiceUnavailable, CodeNodeFailing, "this node hit a storage fault and is stopping; send the request to another node")

// errorTable maps error values to responses, first match first. detail says
// whether the error's own text is a message for the client (the decode errors
// of transfer, written for people) or must stay in the log.
var errorTable = []struct {
	target  error
	status  int
	code    Code
	detail  bool
	message string
}{
	{transfer.ErrMalformed, http.StatusBadRequest, CodeMalformed, true, ""},
	{transfer.ErrUnknownField, http.StatusBadRequest, CodeUnknownField, true, ""},
	{transfer.ErrBadAmount, http.StatusBadRequest, CodeBadAmount, true, ""},
	{transfer.ErrInvalid, http.StatusBadRequest, CodeInvalid, true, ""},
	{ledger.ErrNotFound, http.StatusNotFound, CodeNotFound, false, "not found"},
	{ledger.ErrSeqAhead, http.StatusBadRequest, CodeInvalid, false, "at is beyond the end of the journal"},
	{ledger.ErrStorageFault, http.StatusServiceUnavailable, CodeNodeFailing, false, "this node hit a storage fault and is stopping; send the request to another node"},
	{ledger.ErrStateUnsound, http.StatusServiceUnavailable, CodeNodeFailing, false, "this node's state, restored from a snapshot, failed its checks and the node is stopping; send the request to another node"},
	{ErrNoLeader, http.StatusServiceUnavailable, CodeNoLeader, false, "the cluster has no leader; retry with the same id"},
	{ErrNotLeader, http.StatusServiceUnavailable, CodeNotLeader, false, "this node is not the leader; send the request to the leader (GET /v1/cluster)"},
	{ErrOverloaded, http.StatusServiceUnavailable, CodeOverloaded, false, "the leader is overloaded and proposed nothing; retry with the same id after Retry-After"},
	{ErrUnknownOutcome, http.StatusServiceUnavailable, CodeTimeout, false, "the outcome is unknown; retry with the same id"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, CodeTimeout, false, "the request timed out; a write's outcome is unknown, retry with the same id"},
	{context.Canceled, http.StatusServiceUnavailable, CodeTimeout, false, "the request was cancelled"},
}

// errorResponse decides the status, code and client message of err, and
// whether it is a fault to log.
func errorResponse(err error) (status int, code Code, message string, fault bool) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Status, ae.Code, ae.Message, false
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return echoError(he)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, CodeTooLarge, "the request body is larger than this node accepts", false
	}
	for _, row := range errorTable {
		if errors.Is(err, row.target) {
			msg := row.message
			if row.detail {
				msg = clientDetail(err)
			}
			return row.status, row.code, msg, false
		}
	}
	return http.StatusInternalServerError, CodeInternal, "internal error; the cause is in the node's log", true
}

// echoError maps echo's own errors (routing, its middleware).
func echoError(he *echo.HTTPError) (int, Code, string, bool) {
	switch he.Code {
	case http.StatusNotFound:
		return he.Code, CodeNotFound, "no such route", false
	case http.StatusMethodNotAllowed:
		return he.Code, CodeMethodNotAllowed, "the path does not take this method", false
	case http.StatusRequestEntityTooLarge:
		return he.Code, CodeTooLarge, "the request body is larger than this node accepts", false
	case http.StatusUnauthorized:
		return he.Code, CodeUnauthenticated, "a valid Authorization: Bearer key is required", false
	case http.StatusForbidden:
		return he.Code, CodeNotAuthorized, "not authorized", false
	case http.StatusBadRequest:
		return he.Code, CodeMalformed, "bad request", false
	case http.StatusServiceUnavailable:
		return he.Code, CodeTimeout, "the node cannot serve the request now", false
	}
	return http.StatusInternalServerError, CodeInternal, "internal error; the cause is in the node's log", true
}

// clientDetail turns a transfer decode error, written for clients, into a
// message: without the package prefix, one line.
func clientDetail(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	return strings.ReplaceAll(msg, "transfer: ", "")
}

// errorBody is the JSON of every non-decision error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// RequestID repeats the X-Request-ID of the response, so a client can
	// quote it and an operator find the access log line; empty (and left
	// out) for an error inside a batch's results.
	RequestID string `json:"request_id,omitempty"`
}

// handleError is the one place errors become responses. A fault (500) is
// logged here, once, with its cause; the client sees a generic message.
func (s *Server) handleError(err error, c echo.Context) {
	id := requestIDOf(c)
	if c.Response().Committed {
		s.log.Error("error after the response started", keyRequestID, id, keyRoute, c.Path(), keyError, err)
		return
	}
	status, code, message, fault := errorResponse(err)
	if fault {
		s.log.Error("request failed", keyRequestID, id, keyMethod, c.Request().Method, keyRoute, c.Path(), keyError, err)
	}
	if code == CodeOverloaded {
		c.Response().Header().Set("Retry-After", retryAfterSeconds)
	}
	if err := writeJSON(c, status, errorBody{Error: errorDetail{Code: code, Message: message, RequestID: id}}); err != nil {
		s.log.Debug("write error response", keyError, err)
	}
}
