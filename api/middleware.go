package api

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

// Log keys. Keys and key hashes are never logged under any key.
const (
	keyRoute    = "route"
	keyMethod   = "method"
	keyStatus   = "status"
	keyDuration = "duration"
	keyError    = "error"
	keyPanic    = "panic"
	keyStack    = "stack"
	keyNode     = "node_id"
	keyRaftAddr = "raft_addr"
)

// observe counts and times every request by route pattern, method and status,
// and renders a handler's error here, so the status it records is the one sent.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if !s.routeSet[route] {
			route = routeUnmatched
		}
		status := c.Response().Status
		elapsed := time.Since(start)
		s.metrics.request(route, c.Request().Method, status, elapsed)
		s.log.Debug("request", keyMethod, c.Request().Method, keyRoute, route, keyStatus, status, keyDuration, elapsed)
		return nil
	}
}

// errPanic answers a request whose handler panicked.
var errPanic = newError(http.StatusInternalServerError, CodeInternal, "internal error; the cause is in the node's log")

// recoverPanic turns a handler's panic (a failed assertion) into a 500 and
// logs it once with its stack. http.ErrAbortHandler keeps its meaning.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("handler panicked", keyMethod, c.Request().Method, keyRoute, c.Path(), keyPanic, r, keyStack, string(debug.Stack()))
			err = errPanic
		}()
		return next(c)
	}
}

// timeout bounds each request by Config.RequestTimeout. Handlers pass the
// request's context to every blocking call, so a proposal waits no longer.
func (s *Server) timeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// caughtUp answers 503 NOT_READY until the node has caught up with the
// cluster once since it started. The state file commits in groups and raft
// replays the uncommitted tail after a restart, so until then the node's
// state may be older than what it answered before: a key created then would
// be unknown (401) and a balance would go back in time.
//
// A node stopping after a storage fault answers 503 NODE_FAILING instead:
// its state may be ahead of its files, and it is about to exit.
func (s *Server) caughtUp(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.repl.Failing() {
			return errNodeFailing
		}
		if !s.repl.CaughtUp() {
			c.Response().Header().Set("Retry-After", retryAfterSeconds)
			return newError(http.StatusServiceUnavailable, CodeNotReady, "the node is catching up with the cluster after a start; retry shortly")
		}
		return next(c)
	}
}
