package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxEventBytes bounds one line of the stream: an entry holds an
// instruction, and the largest (set_rulebook) is a rulebook of some
// hundred kilobytes.
const maxEventBytes = 8 << 20

// Follow streams journal entries after f.After that match f, from every
// committed entry to those still to come, over GET /v1/journal/stream. When
// a connection breaks or a node answers 503 it reconnects, to the next node,
// with the seq of the last entry it yielded as Last-Event-ID, so no entry is
// skipped or repeated. It ends when ctx ends (without an error) or on an
// answer that a retry would not change (401, 403, 400), yielded as an error.
func (c *Client) Follow(ctx context.Context, f JournalFilter) iter.Seq2[JournalEntry, error] {
	return func(yield func(JournalEntry, error) bool) {
		last := f.After
		wait := c.backoff
		pos := c.preferred()
		for ctx.Err() == nil {
			base, i := c.node(pos)
			got, err := c.streamOnce(ctx, base, f, &last, yield)
			if errors.Is(err, errStop) || ctx.Err() != nil {
				return
			}
			var ae *APIError
			if errors.As(err, &ae) && !ae.Retryable() {
				yield(JournalEntry{}, err)
				return
			}
			if got {
				wait = c.backoff
			}
			pos = i + 1
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
		}
	}
}

// errStop says the consumer stopped the iteration.
var errStop = errors.New("client: iteration stopped")

// streamOnce reads one connection's events, yielding each entry after
// *last and advancing *last; it reports whether any entry came.
func (c *Client) streamOnce(ctx context.Context, base string, f JournalFilter, last *uint64, yield func(JournalEntry, error) bool) (bool, error) {
	q := journalQuery(f, *last)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/journal/stream?"+q.Encode(), nil)
	if err != nil {
		return false, fmt.Errorf("client: stream: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", strconv.FormatUint(*last, 10))
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return false, &transportError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	got := false
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() == 0 {
				continue
			}
			var e JournalEntry
			if err := json.Unmarshal([]byte(data.String()), &e); err != nil {
				return got, &transportError{fmt.Errorf("decode stream event: %w", err)}
			}
			data.Reset()
			// A node never sends an entry twice, but a reconnection races
			// nothing if it did: the seq decides.
			if e.Seq <= *last {
				continue
			}
			*last, got = e.Seq, true
			if !yield(e, nil) {
				return got, errStop
			}
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
		// id:, event: and comment lines carry nothing the entry lacks.
	}
	if err := sc.Err(); err != nil {
		return got, &transportError{err}
	}
	return got, &transportError{errors.New("stream ended")}
}
