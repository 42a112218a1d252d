package client

import (
	"context"
	"errors"
)

// ErrBadAnswer matches an answer that breaks the wire contract: a 422 whose
// outcome is not rejected, a 2xx whose outcome is, a batch answered with
// another number of results than it sent. Sending again would not help: the
// node (or something between) is at fault.
var ErrBadAnswer = errors.New("client: answer breaks the API contract")

// IsUnknownOutcome reports whether a write that failed with err may or may
// not have been applied: no answer came (a broken connection, a timeout, the
// context ended) or every node answered 503. Sending the same instruction
// again, with its id and body, is safe and tells the outcome. Any other
// error is an answer: the instruction was decided (a *RejectedError) or
// refused before it was proposed (an *APIError that is not Retryable), or it
// was never sent.
func IsUnknownOutcome(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Retryable()
	}
	return isTransport(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Attempt is one exchange of a request with one node, as Config.Observe
// sees it.
type Attempt struct {
	// Node is the base URL the request went to.
	Node string
	// Method and Path are the request's.
	Method, Path string
	// Status is the HTTP status of the answer; 0 when none came.
	Status int
	// Err is what the exchange failed with; nil for a 2xx, or a 422 on an
	// instruction route.
	Err error
}
