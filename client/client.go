package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Limits and defaults.
const (
	// MaxBatch is the most instructions one POST /v1/instructions/batch
	// takes (API.md).
	MaxBatch = 10_000
	// DefaultAttempts is how many times a request is sent, over the nodes in
	// turn, before a 503 or a transport error is returned.
	DefaultAttempts = 6
	// DefaultTimeout bounds one HTTP exchange (not a stream).
	DefaultTimeout = 60 * time.Second
	// maxErrorBody bounds what is read of an error answer.
	maxErrorBody = 64 << 10
)

// Config configures a Client.
type Config struct {
	// Nodes are the base URLs of the cluster's APIs ("http://127.0.0.1:8080");
	// at least one. A bare host:port means http.
	Nodes []string
	// Key is the bearer key of every /v1 request.
	Key string
	// HTTPClient sends the requests; nil means a client with DefaultTimeout
	// for plain requests and none for streams.
	HTTPClient *http.Client
	// Attempts is how many sends a retryable request gets over all nodes;
	// zero means DefaultAttempts.
	Attempts int
	// Backoff is the pause before each retry after the first round over the
	// nodes; zero means 100ms. It grows twofold up to 2s.
	Backoff time.Duration
	// Observe, if set, is called after every exchange with a node, on the
	// caller's goroutine, before the client decides to retry: to log or
	// count retries, or to learn which node answered with which status.
	Observe func(Attempt)
}

// Client calls a cluster's API. It is safe for concurrent use.
type Client struct {
	key      string
	http     *http.Client
	stream   *http.Client
	attempts int
	backoff  time.Duration
	observe  func(Attempt)

	mu    sync.Mutex
	nodes []string
	// cur indexes the node requests go to first: the leader when known, so
	// writes are not forwarded, else the last node that answered.
	cur int
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("client: config: no nodes")
	}
	c := &Client{key: cfg.Key, attempts: cfg.Attempts, backoff: cfg.Backoff, observe: cfg.Observe}
	for _, n := range cfg.Nodes {
		u, err := normalize(n)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, u)
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	if c.backoff <= 0 {
		c.backoff = 100 * time.Millisecond
	}
	c.http, c.stream = cfg.HTTPClient, cfg.HTTPClient
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
		// A stream lasts as long as its context; a client timeout would cut it.
		c.stream = &http.Client{}
	}
	return c, nil
}

// normalize turns a node address into a base URL without a trailing slash.
func normalize(n string) (string, error) {
	if !strings.Contains(n, "://") {
		n = "http://" + n
	}
	u, err := url.Parse(n)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("client: config: bad node address %q", n)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Nodes returns the base URLs the client knows, the preferred first.
func (c *Client) Nodes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.nodes))
	for i := range c.nodes {
		out = append(out, c.nodes[(c.cur+i)%len(c.nodes)])
	}
	return out
}

// node returns the base URL of node i, modulo the number of nodes, and its index.
func (c *Client) node(i int) (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i %= len(c.nodes)
	return c.nodes[i], i
}

// preferred is the index of the node requests go to first.
func (c *Client) preferred() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// prefer makes node i the first for later requests.
func (c *Client) prefer(i int) {
	c.mu.Lock()
	c.cur = i
	c.mu.Unlock()
}

// do sends method path with body (nil: none) and decodes a 2xx answer into
// out (nil: discarded). A 503 or a transport error is sent again, with the
// same body, to the next node; writes carry client-chosen ids, so a second
// send answers the first outcome. A 422 on an instruction route is decoded
// into out too and returned as a *RejectedError by the caller.
func (c *Client) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, fmt.Errorf("client: encode %s %s: %w", method, path, err)
		}
	}
	var last error
	wait := c.backoff
	pos := c.preferred()
	for attempt := range c.attempts {
		if attempt > 0 && attempt%len(c.nodes) == 0 {
			// Every node was tried once: give the cluster time to elect.
			select {
			case <-ctx.Done():
				return 0, errors.Join(ctx.Err(), last)
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
		}
		base, i := c.node(pos)
		status, err := c.once(ctx, method, base+path, payload, out)
		if c.observe != nil {
			c.observe(Attempt{Node: base, Method: method, Path: path, Status: status, Err: err})
		}
		if err == nil {
			c.prefer(i)
			return status, nil
		}
		last = err
		if ctx.Err() != nil {
			return 0, err
		}
		var ae *APIError
		if errors.As(err, &ae) && !ae.Retryable() {
			c.prefer(i)
			return status, err
		}
		if !errors.As(err, &ae) && !isTransport(err) {
			return status, err
		}
		if attempt == c.attempts-1 {
			// No send is left to follow the leader with.
			break
		}
		if leader, ok := c.followLeader(ctx, base); ok && leader != i {
			pos = leader
		} else {
			pos = i + 1
		}
	}
	return 0, last
}

// transportError marks a failure to exchange with a node at all.
type transportError struct{ err error }

func (e *transportError) Error() string { return "client: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func isTransport(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

// once sends one request to one node. 2xx and 422 answers decode into out;
// 422 returns a nil error and the caller reads the outcome.
func (c *Client) once(ctx context.Context, method, rawURL string, payload []byte, out any) (int, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", method, rawURL, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, &transportError{err}
	}
	defer resp.Body.Close()
	ok := resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusUnprocessableEntity
	if !ok {
		return resp.StatusCode, decodeError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, &transportError{fmt.Errorf("decode %s answer: %w", rawURL, err)}
	}
	return resp.StatusCode, nil
}

// decodeError reads an error answer; a body that is not the API's error
// format still gives an *APIError with the status.
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error ErrorDetail `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil || body.Error.Code == "" {
		body.Error = ErrorDetail{Code: Code(fmt.Sprintf("HTTP_%d", resp.StatusCode)), Message: strings.TrimSpace(string(b))}
	}
	return &APIError{Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message}
}

// statusOfCode is the HTTP status API.md gives an error code, for batch
// results that carry only the code.
func statusOfCode(c Code) int {
	switch c {
	case ErrMalformed, ErrUnknownField, ErrBadAmount, ErrInvalid:
		return http.StatusBadRequest
	case ErrUnauthenticated:
		return http.StatusUnauthorized
	case ErrNotAuthorized:
		return http.StatusForbidden
	case ErrNotFound:
		return http.StatusNotFound
	case ErrIDReused:
		return http.StatusConflict
	case ErrTooLarge:
		return http.StatusRequestEntityTooLarge
	case ErrMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case ErrTooManyRequests:
		return http.StatusTooManyRequests
	case ErrNoLeader, ErrNotLeader, ErrTimeout, ErrOverloaded, ErrNotReady, ErrNodeFailing:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// followLeader asks the node that failed where the leader's API is and
// returns its index among the client's nodes. It is best effort: on any
// error the caller goes on to the next node.
func (c *Client) followLeader(ctx context.Context, base string) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var st ClusterStatus
	if _, err := c.once(ctx, http.MethodGet, base+"/v1/cluster", nil, &st); err != nil || st.Leader == "" {
		return 0, false
	}
	for _, n := range st.Nodes {
		if n.ID != st.Leader || n.APIAddr == "" {
			continue
		}
		addr, err := normalize(n.APIAddr)
		if err != nil {
			return 0, false
		}
		host := hostOf(addr)
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, known := range c.nodes {
			// The cluster file may name http where the client speaks https.
			if hostOf(known) == host {
				return i, true
			}
		}
		return 0, false
	}
	return 0, false
}

// hostOf is the host:port of a base URL.
func hostOf(base string) string {
	_, rest, _ := strings.Cut(base, "://")
	return rest
}
