package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Log keys. Keys, key hashes, the Authorization header and bodies are never
// logged under any key.
const (
	keyRoute      = "route"
	keyMethod     = "method"
	keyStatus     = "status"
	keyError      = "error"
	keyPanic      = "panic"
	keyStack      = "stack"
	keyNode       = "node_id"
	keyRaftAddr   = "raft_addr"
	keyRequestID  = "request_id"
	keyRemoteAddr = "remote_addr"
	keyParty      = "party"
	keyLatencyMS  = "latency_ms"
	keyBytesOut   = "bytes_out"
)

// msgRequest is the message of the access log's one line per request.
const msgRequest = "request"

// HeaderRequestID carries a request's id: a client may send one, and every
// response carries the id the node used, which its access log line and any
// error body repeat.
const HeaderRequestID = "X-Request-ID"

// Request ids.
const (
	// requestIDBytes is the entropy of an id the node makes: 64 bits, 16 hex
	// characters, so ids of one node's log do not collide in practice.
	requestIDBytes = 8
	// maxClientRequestID bounds an id a client sends: room for a UUID (36),
	// and too short for a key NewKey makes (46), so a key pasted into the
	// wrong header is not logged.
	maxClientRequestID = 40
	requestIDContext   = "tokenledger.request_id"
)

// requestID returns the client's X-Request-ID when it is a short token of
// safe characters, else a new random id. A client's id that looks like a key
// (KeyPrefix) is replaced: the id is logged, and a key never is.
func requestID(r *http.Request) string {
	if id := r.Header.Get(HeaderRequestID); safeRequestID(id) {
		return id
	}
	b := make([]byte, requestIDBytes)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func safeRequestID(id string) bool {
	if id == "" || len(id) > maxClientRequestID || strings.HasPrefix(id, KeyPrefix) {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// requestIDOf is the id observe gave the request, or "" outside it.
func requestIDOf(c echo.Context) string {
	id, _ := c.Get(requestIDContext).(string)
	return id
}

// observe gives every request its id, renders a handler's error here (so the
// status it counts and logs is the one sent), counts and times the request by
// route pattern, method and status, and writes the access log: one line per
// request, 401, 403, 429 and errors included. The line names the route's
// pattern, never the path (which holds party ids), and the party once
// authenticated; never the key, the Authorization header or a body.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := requestID(c.Request())
		c.Set(requestIDContext, id)
		c.Response().Header().Set(HeaderRequestID, id)
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if !s.routeSet[route] {
			route = routeUnmatched
		}
		res := c.Response()
		elapsed := time.Since(start)
		s.metrics.request(route, c.Request().Method, res.Status, elapsed)
		attrs := []slog.Attr{
			slog.String(keyRequestID, id),
			slog.String(keyRemoteAddr, c.Request().RemoteAddr),
			slog.String(keyMethod, c.Request().Method),
			slog.String(keyRoute, route),
			slog.Int(keyStatus, res.Status),
			slog.Float64(keyLatencyMS, float64(elapsed.Microseconds())/1000),
			slog.Int64(keyBytesOut, res.Size),
		}
		if p, ok := c.Get(principalKey).(principal); ok {
			attrs = append(attrs, slog.String(keyParty, p.id()))
		}
		s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, msgRequest, attrs...)
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
			s.log.Error("handler panicked", keyRequestID, requestIDOf(c), keyMethod, c.Request().Method, keyRoute, c.Path(), keyPanic, r, keyStack, string(debug.Stack()))
			err = errPanic
		}()
		return next(c)
	}
}

// timeout bounds each request by Config.RequestTimeout. Handlers pass the
// request's context to every blocking call, so a proposal waits no longer.
func (s *Server) timeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == streamRoute {
			// A stream ends when its client leaves, not after a request's time.
			return next(c)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// caughtUp answers 503 NOT_READY until the node has caught up with the
// cluster once since it started, and while it checks a snapshot it restored
// (its replicator's CaughtUp says both). The state file commits in groups
// and raft replays the uncommitted tail after a restart, so until then the
// node's state may be older than what it answered before: a key created
// then would be unknown (401) and a balance would go back in time.
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
			return newError(http.StatusServiceUnavailable, CodeNotReady, "the node is catching up with the cluster, or checking a snapshot it restored; retry shortly")
		}
		return next(c)
	}
}
