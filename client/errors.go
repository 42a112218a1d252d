package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Code is a stable code of the API: a rule's reason code (LOCKUP_ACTIVE) or
// an error code (NOT_FOUND). It is an error so errors.Is can match an
// *APIError or a *RejectedError against it.
type Code string

func (c Code) Error() string { return "client: " + string(c) }

// Error codes of API.md's error answers.
const (
	ErrMalformed        Code = "MALFORMED"
	ErrUnknownField     Code = "UNKNOWN_FIELD"
	ErrBadAmount        Code = "BAD_AMOUNT"
	ErrInvalid          Code = "INVALID"
	ErrUnauthenticated  Code = "UNAUTHENTICATED"
	ErrNotAuthorized    Code = "NOT_AUTHORIZED"
	ErrNotFound         Code = "NOT_FOUND"
	ErrMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	ErrTooManyRequests  Code = "TOO_MANY_REQUESTS"
	ErrInternal         Code = "INTERNAL"
	ErrIDReused         Code = "ID_REUSED"
	ErrTooLarge         Code = "TOO_LARGE"
	ErrNoLeader         Code = "NO_LEADER"
	ErrNotLeader        Code = "NOT_LEADER"
	ErrTimeout          Code = "TIMEOUT"
	ErrOverloaded       Code = "OVERLOADED"
	ErrNotReady         Code = "NOT_READY"
	ErrNodeFailing      Code = "NODE_FAILING"
)

// ErrRejected matches every *RejectedError: the instruction was decided and
// refused by a rule.
var ErrRejected = errors.New("client: rejected by a rule")

// APIError is an answer of the API that is not a decision:
// {"error": {"code", "message"}} with its HTTP status.
type APIError struct {
	Status  int
	Code    Code
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("client: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is matches the error's code.
func (e *APIError) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// Retryable reports whether the same request may be sent again, to this
// node or another: 503 answers leave the outcome unknown or promise that
// nothing was proposed, and the instruction id makes a second send safe.
func (e *APIError) Retryable() bool { return e.Status == http.StatusServiceUnavailable }

// RejectedError is an instruction decided and refused by one or more rules.
type RejectedError struct {
	Outcome Outcome
}

func (e *RejectedError) Error() string {
	codes := make([]string, 0, len(e.Outcome.Reasons)+1)
	for _, r := range e.Outcome.allReasons() {
		codes = append(codes, string(r.Code))
	}
	msg := ""
	if e.Outcome.Reason != nil {
		msg = ": " + e.Outcome.Reason.Message
	}
	return fmt.Sprintf("client: instruction %s rejected (%s)%s", e.Outcome.ID, strings.Join(codes, ", "), msg)
}

// Is matches ErrRejected and the code of every refusing rule.
func (e *RejectedError) Is(target error) bool {
	if target == ErrRejected {
		return true
	}
	c, ok := target.(Code)
	if !ok {
		return false
	}
	for _, r := range e.Outcome.allReasons() {
		if r.Code == c {
			return true
		}
	}
	return false
}
