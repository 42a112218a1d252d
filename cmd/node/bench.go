package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/client"
)

// benchConfig drives `node bench`: a load generator against running nodes'
// HTTP APIs. It sets up its own parties and instruments with the operator key,
// then sends transfers from many clients for a fixed time and reports
// accepted instructions per second and request latency percentiles.
type benchConfig struct {
	addrs    []string
	key      string
	clients  int
	duration time.Duration
	batch    int // instructions per request; 1 uses POST /v1/instructions
	accounts int
	prefix   string
	leader   bool // send every request to the leader's API
	// tls verifies the nodes' API certificates for https:// addresses.
	tls *tls.Config
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	addrs := fs.String("addrs", "http://127.0.0.1:8080", "comma-separated API base URLs (http:// or https://); requests go round-robin")
	caCert := fs.String("cacert", "", "PEM file of the CA that signed the nodes' API certificates, for https:// addresses (default: the system's roots)")
	key := fs.String("key", os.Getenv("TOKENLEDGER_KEY"), "operator key (default $TOKENLEDGER_KEY)")
	clients := fs.Int("clients", 64, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	batch := fs.Int("batch", 1, "instructions per request (1: /v1/instructions, more: /v1/instructions/batch)")
	accounts := fs.Int("accounts", 1000, "investor accounts to spread transfers over")
	prefix := fs.String("prefix", fmt.Sprintf("b%d", time.Now().Unix()), "prefix of the ids this run creates")
	leader := fs.Bool("leader", false, "send every request to the leader's API (found through GET /v1/cluster) instead of round-robin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		return errors.New("bench: --key or $TOKENLEDGER_KEY is required")
	}
	tlsCfg, err := benchTLS(*caCert)
	if err != nil {
		return err
	}
	cfg := benchConfig{addrs: strings.Split(*addrs, ","), key: *key, clients: *clients, duration: *duration,
		batch: *batch, accounts: *accounts, prefix: *prefix, leader: *leader, tls: tlsCfg}
	if cfg.clients < 1 || cfg.batch < 1 || cfg.batch > 10_000 || cfg.accounts < 2 {
		return errors.New("bench: clients >= 1, 1 <= batch <= 10000, accounts >= 2")
	}
	res, err := benchRun(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Println(res)
	return nil
}

// benchTLS is the client side of HTTPS: TLS 1.2 at least, the nodes'
// certificates verified against caFile or, without one, the system's roots.
func benchTLS(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("bench: --cacert: %w", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("bench: --cacert %s holds no PEM certificate", caFile)
	}
	return cfg, nil
}

type benchResult struct {
	clients, batch    int
	accepted, refused int64
	failed            int64
	elapsed           time.Duration
	p50, p99          time.Duration
	cpu               cpuPerInstruction
}

func (r benchResult) String() string {
	line := fmt.Sprintf("clients=%d batch=%d accepted=%d rejected=%d failed_requests=%d elapsed=%s throughput=%.0f instr/s p50=%s p99=%s",
		r.clients, r.batch, r.accepted, r.refused, r.failed, r.elapsed.Round(time.Millisecond),
		float64(r.accepted)/r.elapsed.Seconds(), r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	if len(r.cpu.addrs) == 0 {
		return line
	}
	return line + "\n" + r.cpu.String()
}

type benchClient struct {
	cfg  benchConfig
	auth string // the Authorization header
	http *http.Client
	next atomic.Uint64
	// api sets up and finds the leader; the timed run speaks HTTP itself
	// (benchConns), so the generator's own cost stays small.
	api *client.Client
}

// findLeader asks the cluster, through the client, for the leader's API
// base URL.
func (c *benchClient) findLeader(ctx context.Context) (string, error) {
	cl, err := c.api.Cluster(ctx)
	if err != nil {
		return "", fmt.Errorf("bench: find the leader: %w", err)
	}
	for _, n := range cl.Nodes {
		if n.ID == cl.Leader && n.APIAddr != "" {
			if strings.Contains(n.APIAddr, "://") {
				return strings.TrimRight(n.APIAddr, "/"), nil
			}
			// The leader speaks as the node asked did: HTTPS clusters
			// serve every node's API over HTTPS.
			scheme, _, _ := strings.Cut(c.cfg.addrs[0], "://")
			return scheme + "://" + n.APIAddr, nil
		}
	}
	return "", fmt.Errorf("bench: find the leader: no API address for leader %q", cl.Leader)
}

// setup registers a custodian, an issuer, the investors and a cash
// instrument, and funds every investor, in batches sent by the client (which
// retries a 503 on the next node with the same ids).
func (c *benchClient) setup(ctx context.Context) error {
	p := c.cfg.prefix
	var ins []client.Instruction
	n := 0
	add := func(in client.Instruction) { n++; in.ID = fmt.Sprintf("%s-setup-%d", p, n); ins = append(ins, in) }
	add(client.Instruction{Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: p + "-cus", Role: "custodian"}})
	add(client.Instruction{Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: p + "-iss", Role: "issuer"}})
	if err := c.batchAll(ctx, &ins); err != nil {
		return err
	}
	one := decimal.NewFromInt(1)
	add(client.Instruction{Type: client.TypeCreateInstrument, Instrument: &client.InstrumentSpec{Symbol: strings.ToUpper(p) + "USD", Name: "bench cash",
		Issuer: p + "-iss", Decimals: 2, Regime: "unrestricted",
		Attributes: client.Attributes{Underlying: "cash", Payoff: "linear", EmbeddedLeverage: &one, EconomicPurpose: "payment"}}})
	kyc := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < c.cfg.accounts; i++ {
		add(client.Instruction{Type: client.TypeRegisterParty, Party: &client.PartySpec{ID: fmt.Sprintf("%s-inv-%d", p, i), Role: "investor",
			Status: "retail", Jurisdiction: "US", KYCExpiresAt: &kyc, Custodian: p + "-cus"}})
	}
	if err := c.batchAll(ctx, &ins); err != nil {
		return err
	}
	funds := decimal.NewFromInt(1_000_000_000)
	for i := 0; i < c.cfg.accounts; i++ {
		add(client.Instruction{Type: client.TypeMint, Symbol: strings.ToUpper(p) + "USD", To: fmt.Sprintf("%s-inv-%d", p, i), Amount: &funds})
	}
	return c.batchAll(ctx, &ins)
}

func (c *benchClient) batchAll(ctx context.Context, ins *[]client.Instruction) error {
	for len(*ins) > 0 {
		n := min(len(*ins), 5000)
		outs, err := c.api.Batch(ctx, (*ins)[:n])
		if err != nil {
			return fmt.Errorf("bench setup: %w", err)
		}
		for i, o := range outs {
			if err := o.Err(); err != nil {
				return fmt.Errorf("bench setup: instruction %d: %w", i, err)
			}
		}
		*ins = (*ins)[n:]
	}
	return nil
}

// benchConns are one worker's keep-alive HTTP/1.1 connections for the timed
// run, one per address, spoken directly: net/http's client spends a
// goroutine handoff each way and more per request, and on a machine the
// generator shares with the nodes that is capacity taken from them. The
// response is parsed by net/http (ReadResponse), so chunked and
// connection-close answers are handled as a client would.
type benchConns struct {
	auth  string
	conns []benchConn
	buf   []byte
}

type benchConn struct {
	host string
	tls  *tls.Config // nil: plain HTTP
	conn net.Conn
	br   *bufio.Reader
}

// post sends body to path at address i and returns the status and, if keep,
// the response body. Any error closes the connection; the next post redials.
func (w *benchConns) post(ctx context.Context, i int, path string, body []byte, keep bool) (int, []byte, error) {
	bc := &w.conns[i]
	if bc.conn == nil {
		conn, err := bc.dial(ctx)
		if err != nil {
			return 0, nil, err
		}
		bc.conn, bc.br = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	status, out, reuse, err := bc.roundTrip(ctx, w, path, body, keep)
	if err != nil || !reuse {
		bc.conn.Close()
		bc.conn = nil
	}
	return status, out, err
}

// dial connects to the node, and completes the TLS handshake for HTTPS.
func (bc *benchConn) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: benchDialTimeout}
	if bc.tls == nil {
		return d.DialContext(ctx, "tcp", bc.host)
	}
	return (&tls.Dialer{NetDialer: d, Config: bc.tls}).DialContext(ctx, "tcp", bc.host)
}

// benchDialTimeout bounds a connection, its TLS handshake included.
const benchDialTimeout = 5 * time.Second

func (w *benchConns) close() {
	for _, bc := range w.conns {
		if bc.conn != nil {
			bc.conn.Close()
		}
	}
}

// roundTrip sends one request and reads its answer; reuse is false when the
// server closes the connection after it.
func (bc *benchConn) roundTrip(ctx context.Context, w *benchConns, path string, body []byte, keep bool) (status int, out []byte, reuse bool, err error) {
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := bc.conn.SetDeadline(deadline); err != nil {
		return 0, nil, false, err
	}
	w.buf = fmt.Appendf(w.buf[:0], "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		path, bc.host, w.auth, len(body))
	w.buf = append(w.buf, body...)
	if _, err := bc.conn.Write(w.buf); err != nil {
		return 0, nil, false, err
	}
	resp, err := http.ReadResponse(bc.br, nil)
	if err != nil {
		return 0, nil, false, err
	}
	defer resp.Body.Close()
	if keep {
		out, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, out, !resp.Close, err
}

func benchRun(ctx context.Context, cfg benchConfig) (benchResult, error) {
	for i, a := range cfg.addrs {
		cfg.addrs[i] = strings.TrimRight(a, "/")
		if !strings.HasPrefix(a, "http://") && !strings.HasPrefix(a, "https://") {
			return benchResult{}, fmt.Errorf("bench: address %q: only http:// and https:// addresses are supported", a)
		}
	}
	if cfg.tls == nil {
		cfg.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c := &benchClient{cfg: cfg, auth: "Bearer " + cfg.key, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients + 8, MaxConnsPerHost: cfg.clients + 8, TLSClientConfig: cfg.tls},
	}}
	api, err := client.New(client.Config{Nodes: cfg.addrs, Key: cfg.key, HTTPClient: c.http})
	if err != nil {
		return benchResult{}, err
	}
	c.api = api
	// Every node's CPU is read, the leader's among them, whichever the
	// requests go to.
	nodes := slices.Clone(cfg.addrs)
	leader := ""
	if cfg.leader {
		l, err := c.findLeader(ctx)
		if err != nil {
			return benchResult{}, err
		}
		c.cfg.addrs = []string{l}
		cfg = c.cfg
		leader = l
		// Setup goes to the leader too: --leader means no node forwards.
		if c.api, err = client.New(client.Config{Nodes: cfg.addrs, Key: cfg.key, HTTPClient: c.http}); err != nil {
			return benchResult{}, err
		}
	}
	if err := c.setup(ctx); err != nil {
		return benchResult{}, err
	}
	res := benchResult{clients: cfg.clients, batch: cfg.batch}
	var accepted, refused, failed atomic.Int64
	lat := make([][]time.Duration, cfg.clients)
	cpuBefore := c.sampleCPU(ctx, nodes)
	runCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	start := time.Now()
	end, _ := runCtx.Deadline()
	var wg sync.WaitGroup
	for w := 0; w < cfg.clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns := &benchConns{auth: c.auth, conns: make([]benchConn, len(c.cfg.addrs))}
			for i, a := range c.cfg.addrs {
				scheme, host, _ := strings.Cut(a, "://")
				conns.conns[i].host = host
				if scheme == "https" {
					conns.conns[i].tls = cfg.tls
				}
			}
			defer conns.close()
			sym := strings.ToUpper(cfg.prefix) + "USD"
			for n := 0; runCtx.Err() == nil; n++ {
				// Bodies are built by hand: the generator shares the machine
				// with the nodes, and every cycle it spends is one they lack.
				// A new one each time: the transport may still hold the last.
				body := make([]byte, 0, 192*cfg.batch+32)
				if cfg.batch > 1 {
					body = append(body, `{"instructions":[`...)
				}
				for i := 0; i < cfg.batch; i++ {
					a := (w*7919 + n*cfg.batch + i) % cfg.accounts
					b := (a + 1 + (n+i)%(cfg.accounts-1)) % cfg.accounts
					if i > 0 {
						body = append(body, ',')
					}
					body = fmt.Appendf(body, `{"id":"%s-%d-%d-%d","type":"transfer","legs":[{"symbol":"%s","from":"%s-inv-%d","to":"%s-inv-%d","amount":"0.01"}]}`,
						cfg.prefix, w, n, i, sym, cfg.prefix, a, cfg.prefix, b)
				}
				if cfg.batch > 1 {
					body = append(body, "]}"...)
				}
				t0 := time.Now()
				var status int
				var err error
				var resp []byte
				at := int(c.next.Add(1)) % len(c.cfg.addrs)
				if cfg.batch == 1 {
					status, _, err = conns.post(runCtx, at, "/v1/instructions", body, false)
				} else {
					status, resp, err = conns.post(runCtx, at, "/v1/instructions/batch", body, true)
				}
				// The connection's deadline is the run's, and its timer may
				// fire before the context's: either ends the run.
				if runCtx.Err() != nil || !time.Now().Before(end) {
					return // the run ended mid-request: neither counted nor timed
				}
				lat[w] = append(lat[w], time.Since(t0))
				switch {
				case err != nil || status >= 500 || status == 0:
					failed.Add(1)
				case cfg.batch == 1 && status == http.StatusOK:
					accepted.Add(1)
				case cfg.batch == 1:
					refused.Add(1)
				default:
					a, r := countResults(resp)
					accepted.Add(a)
					refused.Add(r)
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	cpuAfter := c.sampleCPU(ctx, nodes)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		res.p50, res.p99 = all[len(all)*50/100], all[min(len(all)-1, len(all)*99/100)]
	}
	res.accepted, res.refused, res.failed = accepted.Load(), refused.Load(), failed.Load()
	// The requests the run's end cut off were decided too, uncounted: at
	// most one a client, a small part of a run of seconds.
	res.cpu = newCPUPerInstruction(nodes, leader, cpuBefore, cpuAfter, res.accepted+res.refused)
	return res, nil
}

func countResults(body []byte) (accepted, rejected int64) {
	var out struct {
		Results []struct {
			Status string `json:"status"`
		} `json:"results"`
	}
	if json.Unmarshal(body, &out) != nil {
		return 0, 0
	}
	for _, r := range out.Results {
		if r.Status == "accepted" {
			accepted++
		} else {
			rejected++
		}
	}
	return accepted, rejected
}
