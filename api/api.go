package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
	"github.com/tokenledger/tokenledger/ui"
)

// Limits. A test asserts the relations between them.
const (
	// MaxBatchInstructions bounds POST /v1/instructions/batch (API.md).
	MaxBatchInstructions = 10_000
	// DefaultMaxBodyBytes bounds every request body unless Config says
	// otherwise: a full batch of MaxBatchInstructions transfers (about 200 bytes
	// each, 2 MB) fits four times over, and so does a set_rulebook carrying the
	// largest rulebook transfer accepts with every byte escaped.
	DefaultMaxBodyBytes = 8 << 20
	// MinBodyBytes and MaxBodyBytesLimit are the range Config.MaxBodyBytes may take.
	MinBodyBytes      = 64 << 10
	MaxBodyBytesLimit = 256 << 20
	// DefaultRequestTimeout bounds one request, including the wait for a
	// proposal to commit and apply.
	DefaultRequestTimeout = 10 * time.Second
	// MaxRequestTimeout is the largest Config.RequestTimeout accepted.
	MaxRequestTimeout = 10 * time.Minute
	// MaxKeyBytes bounds the key in an Authorization header; a longer one is
	// refused without hashing it.
	MaxKeyBytes = 256
)

// Sentinels a Replicator's errors wrap; the error handler maps each to a status.
var (
	// ErrNoLeader is returned when the cluster has no leader to take a proposal
	// or confirm a read (503 NO_LEADER). Nothing was proposed; retrying with the
	// same instruction id is safe.
	ErrNoLeader = errors.New("api: no leader")
	// ErrNotLeader is returned by operations that only the leader performs
	// (membership changes) on a node that is not the leader and does not
	// forward them (503 NOT_LEADER). Retry on the leader, see GET /v1/cluster.
	ErrNotLeader = errors.New("api: not the leader")
	// ErrUnknownOutcome is returned when a proposal was handed to the cluster
	// but its result is not known (leadership lost, timeout): it may or may not
	// have been applied (503 TIMEOUT). Retry with the same instruction id, which
	// answers the first outcome if it was.
	ErrUnknownOutcome = errors.New("api: outcome unknown")
	// ErrOverloaded is returned when the leader's proposal queue stayed full
	// until the request ran out of time (503 OVERLOADED, with Retry-After).
	// Nothing was proposed; retrying later with the same id is safe.
	ErrOverloaded = errors.New("api: overloaded")
	// ErrNodeRemoved is returned by AddNode for an id that was removed from
	// the cluster (409 ID_REUSED): the removed node may have voted under it.
	ErrNodeRemoved = errors.New("api: node id was removed from the cluster")
	// ErrNotMember is returned by RemoveNode for an id that is not a member
	// of the cluster (404 NOT_FOUND).
	ErrNotMember = errors.New("api: not a member of the cluster")
)

// Reader is the read side of the ledger the API serves; *ledger.Store
// implements it. Lookups of something absent return errors wrapping
// ledger.ErrNotFound.
type Reader interface {
	Party(id string) (transfer.Party, error)
	Parties() ([]transfer.Party, error)
	Instrument(symbol string) (transfer.Instrument, error)
	Instruments() ([]transfer.Instrument, error)
	// ControlBook is an instrument's control book just after journal
	// entry at, or now.
	ControlBook(symbol string, at uint64, now bool) (ledger.ControlBookAt, error)
	// Pending lists the instructions held for a second party's approval.
	Pending() ([]ledger.PendingInstruction, error)
	Price(symbol string) (transfer.Price, error)
	PartyHoldings(party string, now time.Time) (ledger.Holdings, error)
	// MarginCalls lists the accounts in a margin call now (margin.go).
	MarginCalls() ([]ledger.MarginAccount, error)
	HoldersPage(q ledger.HoldersQuery) (ledger.CapTable, error)
	Journal(q ledger.JournalQuery) (ledger.JournalPage, error)
	VerifyJournal() (ledger.Verification, error)
	// KeyOwnerAt resolves HashKey(secret) to the key's party, in one read,
	// for a request at now: a revoked key, or one expired by now, resolves
	// to nothing (ledger.ErrNotFound).
	KeyOwnerAt(keyHash string, now time.Time) (transfer.Party, error)
	// Keys lists a party's keys, or every key for party "".
	Keys(party string) ([]ledger.KeyInfo, error)
	// Key returns the key with a public id.
	Key(keyID string) (ledger.KeyInfo, error)
	// ScheduledRulebook is the rulebook set to take force later, or nil.
	ScheduledRulebook() (*transfer.ScheduledRulebook, error)
	// Impact lists what rb would put out of compliance at now.
	Impact(rb *eligibility.Rulebook, now time.Time) (ledger.Impact, error)
	Nodes() ([]ledger.NodeInfo, error)
	// Outcome is the recorded outcome of an instruction id.
	Outcome(id string) (ledger.Outcome, error)
	// View runs fn against one consistent snapshot of the state.
	View(fn func(v transfer.View) error) error
	// DryRun decides ins for actor at now without applying it.
	DryRun(actor string, ins transfer.Instruction, now time.Time) (ledger.Outcome, error)
	Rulebook() *eligibility.Rulebook
	AppliedIndex() uint64
	JournalTree
	CorporateActions
}

// Replicator is the cluster as the API uses it: a typed port, so the API
// never builds the ledger's log items nor reads their encoded results. The
// consensus node is adapted to it in cmd/node. Errors wrap ErrNoLeader,
// ErrOverloaded, ErrUnknownOutcome or ErrNotLeader, or are ctx's error
// (503 TIMEOUT: the outcome is unknown).
type Replicator interface {
	// Submit replicates instructions submitted by actor in one proposal and
	// returns their outcomes, one per instruction, in order.
	// keyID is the id of the key that authenticated the request
	// (ledger.KeyID): the state machine refuses the instructions, with an
	// UNAUTHENTICATED error outcome, if that key is revoked or expired when
	// they apply.
	Submit(ctx context.Context, actor, keyID string, inss []transfer.Instruction) ([]ledger.Outcome, error)
	// CreateKey replicates the registration of a key, by the key's hash
	// only, and returns its outcome.
	CreateKey(ctx context.Context, req ledger.KeyRequest) (ledger.Outcome, error)
	// RevokeKey replicates actor's revocation of the key keyID and returns
	// its outcome; every node refuses the key once it applies.
	RevokeKey(ctx context.Context, actor, keyID string) (ledger.Outcome, error)
	// AddNode adds a node to the cluster as a voter, or updates its address,
	// and replicates its addresses. An id the cluster removed before is
	// refused with an error wrapping ErrNodeRemoved, and is then not in the
	// cluster's configuration.
	AddNode(ctx context.Context, n ledger.NodeInfo) error
	// RemoveNode removes a node from the cluster and replicates its removal,
	// so its id is never taken again. A node that is not a member is refused
	// with an error wrapping ErrNotMember.
	RemoveNode(ctx context.Context, id string) error
	// ReadIndex returns once this node's state includes every write committed
	// before the call: the barrier of ?consistency=strong.
	ReadIndex(ctx context.Context) error
	// Status describes the cluster as this node sees it.
	Status() ClusterStatus
	// Ready reports whether the node has a leader and has caught up.
	Ready() bool
	// CaughtUp reports whether the node has been Ready at least once since it
	// started; before that its state may lag what it served before a restart.
	CaughtUp() bool
	// Failing reports whether the node hit a storage fault and is stopping;
	// every request is then answered 503 NODE_FAILING, and Ready is false.
	Failing() bool
}

// ClusterStatus is GET /v1/cluster.
type ClusterStatus struct {
	// ID is this node's id and State its Raft state (Leader, Follower,
	// Candidate, Shutdown); both are extensions to API.md.
	ID    string `json:"id,omitempty"`
	State string `json:"state,omitempty"`
	// Leader is the leader's node id, empty while there is none.
	Leader       string       `json:"leader"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Nodes        []NodeStatus `json:"nodes"`
}

// NodeStatus is one member of the cluster.
type NodeStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	// APIAddr may be left empty by the Replicator; the API fills it from the
	// replicated node list (ledger.NodeItem).
	APIAddr string `json:"api_addr"`
	State   string `json:"state"`
	Voter   bool   `json:"voter"`
	// NoteKey is the verifier key of the node's checkpoints, from the
	// replicated node list; empty until the node has published it.
	NoteKey string `json:"note_key,omitempty"`
}

// Config configures a Server.
type Config struct {
	// Reader serves reads and pre-proposal checks; required.
	Reader Reader
	// Replicator takes writes; required.
	Replicator Replicator
	// Logger; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds every request body; a larger body is answered
	// 413 TOO_LARGE. Zero means DefaultMaxBodyBytes (8 MiB, sized for a full
	// batch); otherwise MinBodyBytes to MaxBodyBytesLimit.
	MaxBodyBytes int64
	// RequestTimeout bounds each request, the wait for a proposal included; a
	// write that runs out is answered 503 TIMEOUT with its outcome unknown.
	// Zero means DefaultRequestTimeout; at most MaxRequestTimeout.
	RequestTimeout time.Duration
	// Now is the clock for dry runs, lock-up figures in holdings and the
	// refill of failed-authentication allowances; nil means time.Now. Writes
	// are timed by the leader, not by this clock.
	Now func() time.Time
	// Registry receives the API's metrics and is served at /metrics; nil means
	// a new registry of the API's own.
	Registry *prometheus.Registry
	// CheckpointSigner signs GET /v1/journal/checkpoint; its name is the
	// checkpoints' origin. Nil: the node signs none (404).
	CheckpointSigner note.Signer
}

// DefaultConfig returns a Config with every limit at its default; Reader and
// Replicator must still be set.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: DefaultMaxBodyBytes, RequestTimeout: DefaultRequestTimeout, Now: time.Now}
}

// withDefaults fills the zero fields that have a default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	return c
}

// Validate reports the first invalid field. Zero values with a default are valid.
func (c Config) Validate() error {
	switch {
	case c.Reader == nil:
		return errors.New("api: config: Reader is required")
	case c.Replicator == nil:
		return errors.New("api: config: Replicator is required")
	case c.MaxBodyBytes != 0 && (c.MaxBodyBytes < MinBodyBytes || c.MaxBodyBytes > MaxBodyBytesLimit):
		return fmt.Errorf("api: config: MaxBodyBytes %d is outside %d..%d", c.MaxBodyBytes, MinBodyBytes, MaxBodyBytesLimit)
	case c.RequestTimeout < 0 || c.RequestTimeout > MaxRequestTimeout:
		return fmt.Errorf("api: config: RequestTimeout %s is outside 0..%s", c.RequestTimeout, MaxRequestTimeout)
	}
	return nil
}

// Server is the HTTP API of one node.
type Server struct {
	cfg     Config
	log     *slog.Logger
	reader  Reader
	repl    Replicator
	echo    *echo.Echo
	metrics *metrics
	// throttle slows failed authentication per client address.
	throttle *authThrottle
	// routeSet holds the registered route patterns, the only route label
	// values of the request metrics; written by New only.
	routeSet map[string]bool
}

// New validates cfg and builds the server with every route of API.md. It
// fails when cfg is invalid or cfg.Registry already holds the API's metrics.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ownRegistry := cfg.Registry == nil
	cfg = cfg.withDefaults()
	if ownRegistry {
		// A registry of our own serves the process's figures too; a caller's
		// registry is the caller's to fill.
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "api"),
		reader: cfg.Reader,
		repl:   cfg.Replicator,
		// The throttle reads Config.Now, so tests drive refills with a
		// fake clock.
		throttle: newAuthThrottle(cfg.Now),
	}
	m, err := newMetrics(cfg.Registry, cfg.Replicator, cfg.Reader)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.echo = s.routes()
	s.routeSet = map[string]bool{}
	for _, r := range s.echo.Routes() {
		s.routeSet[r.Path] = true
	}
	return s, nil
}

// Handler serves the API: /v1/..., /healthz, /readyz, /metrics, and the web
// console (package ui) under /ui/. Any other path is answered 404 in the
// API's error format.
func (s *Server) Handler() http.Handler { return s.echo }

// Registry is the registry /metrics serves, for the caller's own collectors.
func (s *Server) Registry() *prometheus.Registry { return s.cfg.Registry }

// routes registers every route; openapi.yaml documents exactly these, and a
// test holds the two together.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// observe is outermost, so a panic's 500 is counted and logged like
	// every other answer.
	e.Use(s.observe, s.recoverPanic, s.timeout)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler()))
	e.GET("/v1/openapi.yaml", s.openAPI)

	// The web console is public: the page holds no data, and every call it
	// makes to /v1 carries the user's key, so it takes no key and does not
	// wait for the node to catch up. Its files sit at one level, so a path
	// parameter names one exactly and any deeper path is the API's 404.
	console := echo.WrapHandler(http.StripPrefix("/ui", ui.Handler()))
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	e.GET("/ui/", console)
	e.GET("/ui/:file", console)
	// Monitors probe with HEAD; ui answers it like GET without the body.
	e.HEAD("/ui/", console)
	e.HEAD("/ui/:file", console)

	// Every other /v1 route needs a key. The middleware is given per route,
	// not to the group, so an unknown path is a plain 404.
	v1 := e.Group("/v1")
	// GET /v1/cluster stays open while the node catches up, so an operator
	// can see why it has not; everything else waits (see caughtUp).
	auth := func(next echo.HandlerFunc) echo.HandlerFunc { return s.caughtUp(s.authenticate(next)) }
	v1.POST("/keys", s.createKey, auth)
	v1.GET("/keys", s.listKeys, auth)
	v1.DELETE("/keys/:key_id", s.revokeKey, auth)
	v1.POST("/instructions", s.submitInstruction, auth)
	v1.POST("/instructions/batch", s.submitBatch, auth)
	v1.GET("/instructions/:id", s.getInstruction, auth)
	v1.POST("/check", s.check, auth)

	v1.GET("/parties", s.listParties, auth)
	v1.GET("/parties/:id", s.getParty, auth)
	v1.GET("/parties/:id/holdings", s.getHoldings, auth)
	v1.GET("/margin-calls", s.getMarginCalls, auth)
	v1.GET("/instruments", s.listInstruments, auth)
	v1.GET("/instruments/:symbol", s.getInstrument, auth)
	v1.GET("/instruments/:symbol/holders", s.getHolders, auth)
	v1.GET("/instruments/:symbol/control-book", s.getControlBook, auth)
	v1.GET("/pending", s.listPending, auth)
	v1.GET("/prices/:symbol", s.getPrice, auth)
	v1.GET("/journal", s.getJournal, auth)
	v1.GET("/journal/verify", s.verifyJournal, auth)
	v1.GET("/journal/stream", s.streamJournal, auth)
	v1.GET("/journal/checkpoint", s.getCheckpoint, auth)
	v1.GET("/journal/proof/:seq", s.getInclusionProof, auth)
	v1.GET("/journal/consistency", s.getConsistencyProof, auth)
	v1.GET("/corporate-actions/:id", s.getCorporateAction, auth)
	v1.GET("/corporate-actions/:id/proof", s.getCorporateActionProof, auth)
	v1.POST("/classify", s.classify, auth)
	v1.GET("/rulebook", s.getRulebook, auth)
	v1.POST("/rulebook/lint", s.lintRulebook, auth)

	v1.GET("/cluster", s.getCluster, s.authenticate)
	v1.POST("/cluster/nodes", s.addNode, auth)
	v1.DELETE("/cluster/nodes/:id", s.removeNode, auth)
	return e
}

// healthz answers 200 while the process serves HTTP.
func (s *Server) healthz(c echo.Context) error {
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 once the node has a leader and has caught up, 503 before,
// and 503 again while it trails the cluster or is stopping after a fault.
func (s *Server) readyz(c echo.Context) error {
	if s.repl.Failing() || !s.repl.Ready() {
		return writeJSON(c, http.StatusServiceUnavailable, map[string]any{"ready": false})
	}
	return writeJSON(c, http.StatusOK, map[string]any{"ready": true})
}
