package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/ledger"
)

// The journal stream (GET /v1/journal/stream).
const (
	// streamRoute is exempt from Config.RequestTimeout: a stream lasts until
	// its client goes away.
	streamRoute = "/v1/journal/stream"
	// StreamPoll is how often a stream looks for new entries once it has
	// sent every committed one. The ledger has no apply notification to wake
	// on, so the stream polls the committed journal; each poll is one read
	// transaction that finds nothing, and the bound keeps a follower's
	// lag to a fraction of a second.
	StreamPoll = 200 * time.Millisecond
	// StreamHeartbeat is the longest a stream stays silent: an idle stream
	// sends a comment line, so proxies keep it open and a client notices a
	// dead connection.
	StreamHeartbeat = 15 * time.Second
)

// streamJournal is GET /v1/journal/stream: the journal entries the caller
// may read (scoped exactly like GET /v1/journal) as Server-Sent Events, one
// event per entry, its id the entry's seq. It starts after Last-Event-ID,
// else after ?after=, else at the first entry, and reads only committed
// entries in seq order, so a client that reconnects with the last id it saw,
// to this node or another, misses none and sees none twice.
func (s *Server) streamJournal(c echo.Context) error {
	// readQuery's strong barrier runs under the request's context, which
	// for a stream has no deadline: bound it here as every other read is.
	orig := c.Request()
	bounded, cancel := context.WithTimeout(orig.Context(), s.cfg.RequestTimeout)
	c.SetRequest(orig.WithContext(bounded))
	q, err := s.readQuery(c, "after", "party", "symbol")
	c.SetRequest(orig)
	cancel()
	if err != nil {
		return err
	}
	jq, err := journalQuery(q)
	if err != nil {
		return err
	}
	if v := strings.TrimSpace(c.Request().Header.Get("Last-Event-ID")); v != "" {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return invalid("Last-Event-ID must be a journal seq")
		}
		// The header is what a reconnecting EventSource sends; it wins over
		// the ?after= of the URL it was first opened with.
		jq.After = seq
	}
	if err := s.scopeJournal(who(c), &jq); err != nil {
		return err
	}
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	// Proxies that buffer would hold the events back.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Flush()

	ctx := c.Request().Context()
	tick := time.NewTicker(StreamPoll)
	defer tick.Stop()
	lastWrite := time.Now()
	for {
		jq.Limit = ledger.MaxJournalPage
		page, err := s.reader.Journal(jq)
		if err != nil {
			// The status is sent; the client reconnects with its last id.
			s.log.Error("journal stream read", keyError, err)
			return nil
		}
		for _, e := range page.Entries {
			if err := writeEvent(w, e); err != nil {
				return nil // the client went away
			}
			jq.After = e.Seq
		}
		if len(page.Entries) > 0 {
			w.Flush()
			lastWrite = time.Now()
		}
		if page.Next > jq.After {
			// A filtered page that hit its scan bound names where to go on.
			jq.After = page.Next
		}
		if page.Next != 0 {
			continue
		}
		if time.Since(lastWrite) >= StreamHeartbeat {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
			lastWrite = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// writeEvent writes one entry as an SSE event: id, event type and the
// entry's JSON on one data line (JSON never holds a raw newline).
func writeEvent(w http.ResponseWriter, e ledger.JournalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode journal entry %d: %w", e.Seq, err)
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: entry\ndata: %s\n\n", e.Seq, b)
	return err
}
