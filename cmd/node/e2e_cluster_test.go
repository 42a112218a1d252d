//go:build unix

package main_test

// The end-to-end fault tests run real `node serve` processes, three to a
// cluster, on loopback, and hurt them the way production does: SIGKILL,
// SIGTERM, SIGSTOP. This file holds the harness: the binary built once per
// run, the cluster of processes, the HTTP client and the poll helper. The
// workload and its checks are in e2e_workload_test.go, the tests in
// e2e_faults_test.go; the Go clients the tests reach the API with in
// e2e_client_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/client"
)

const (
	// e2eKey is every node's operator key (TOKENLEDGER_BOOTSTRAP_KEY).
	e2eKey = "e2e-operator-key-0123456789abcdef"
	// e2eNodes is the cluster size.
	e2eNodes = 3
	// e2eRequestTimeout bounds one HTTP request; a write that runs out of it
	// has an unknown outcome and is retried with the same id.
	e2eRequestTimeout = 5 * time.Second
	// e2ePollTimeout bounds one request made while polling for a condition.
	e2ePollTimeout = 2 * time.Second
	// e2eStartTimeout bounds a cluster's start: processes up, a leader
	// elected, the operator key replicated.
	e2eStartTimeout = 45 * time.Second
	// e2eExitTimeout bounds waiting for a signalled process to exit; SIGTERM
	// may take the node's whole shutdownTimeout (15 s).
	e2eExitTimeout = 30 * time.Second
	// e2eLogTail is how many lines of each node's log a failed test prints.
	e2eLogTail = 60
)

var (
	// e2eBinary is the node binary TestMain built; e2eBuildErr says why
	// there is none.
	e2eBinary   string
	e2eBuildErr error
)

// TestMain builds the node binary once for the whole package run (with -race
// when the tests run with -race, so the product's own races surface under
// faults). Under -short nothing is built and the e2e tests skip.
func TestMain(m *testing.M) {
	flag.Parse()
	dir := ""
	if !testing.Short() {
		dir, e2eBinary, e2eBuildErr = buildNode()
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func buildNode() (dir, bin string, err error) {
	dir, err = os.MkdirTemp("", "tokenledger-e2e-")
	if err != nil {
		return "", "", fmt.Errorf("e2e: temp dir: %w", err)
	}
	bin = filepath.Join(dir, "node")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	// "." is the package under test: cmd/node, where go test runs us.
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, "", fmt.Errorf("e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir, bin, nil
}

// waitFor polls cond every 50 ms until it holds or timeout passes, then fails
// the test with what it waited for and cond's last explanation. It never
// sleeps blindly, and the loop is bounded by the deadline.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// poll is waitFor without the test: an error when the deadline passes.
func poll(timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("timed out after %s; last: %s", timeout, detail)
		case <-tick.C:
		}
	}
}

// e2eProc is one node: its addresses and the process currently running it.
type e2eProc struct {
	id       string
	apiAddr  string
	raftAddr string
	// raftBind is where the node listens when raftAddr is its proxy's.
	raftBind string
	logPath  string
	// extraArgs follow the cluster's serveArgs for this node only.
	extraArgs []string

	mu      sync.Mutex // guards the fields below
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process is reaped
	exitErr error         // cmd.Wait's result, set before done closes
	starts  int
}

// running returns the current process and its done channel; cmd is nil when
// the node was never started.
func (p *e2eProc) running() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// reaped reports whether the node's last process has exited and been reaped.
func (p *e2eProc) reaped() bool {
	cmd, done := p.running()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// alive reports whether the node's process has been started and not reaped.
func (p *e2eProc) alive() bool {
	cmd, done := p.running()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// e2eCluster is a three-node cluster of real processes sharing one cluster
// yaml, each with its data in its own directory under the test's TempDir.
type e2eCluster struct {
	t      testing.TB
	dir    string
	config string
	procs  []*e2eProc
	// http is the raw HTTP client, for what the Go client does not do
	// (plain HTTP to an HTTPS API, /metrics); transport carries it and
	// every Go client the tests make (e2e_client_test.go).
	http      *http.Client
	transport *http.Transport
	// serveArgs are extra flags for every `node serve` that start runs, set
	// before the first start; nil keeps the binary's defaults.
	serveArgs []string
	// net carries the raft traffic of a cluster from newNetCluster; nil:
	// the nodes reach each other directly.
	net *e2eNet
	// certs holds the dev CA and the certificates `node certs` made for a
	// cluster with TLS (ca.pem, <id>.pem, <id>-key.pem, <id>-api.pem,
	// <id>-api-key.pem); "" means none.
	certs string
	// scheme is how the API is reached: "https" when the nodes serve it
	// with api_tls (the client trusts the dev CA), else "http".
	scheme string
}

// clusterOpts choose how newClusterWith builds a cluster.
type clusterOpts struct {
	net bool // raft traffic through an e2eNet
	// tlsIDs, if set, has `node certs` write certificates for these ids
	// (the nodes' and any others the test wants) and the nodes use mutual
	// TLS with them.
	tlsIDs []string
	// apiTLS has the nodes serve their API over HTTPS (api_tls) with the
	// API certificates `node certs --config` makes for them.
	apiTLS bool
}

// newCluster writes a cluster yaml for e2eNodes nodes on free loopback
// addresses and registers a cleanup that kills every process, then prints
// the tail of each node's log if the test failed. It starts nothing.
func newCluster(t testing.TB) *e2eCluster {
	t.Helper()
	return newClusterWith(t, clusterOpts{})
}

// newNetCluster is newCluster with the nodes' raft traffic through an
// e2eNet, so the test can cut them apart.
func newNetCluster(t testing.TB) *e2eCluster {
	t.Helper()
	return newClusterWith(t, clusterOpts{net: true})
}

func newClusterWith(t testing.TB, opts clusterOpts) *e2eCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: starts real node processes")
	}
	if e2eBuildErr != nil {
		t.Fatal(e2eBuildErr)
	}
	dir := t.TempDir()
	c := &e2eCluster{t: t, dir: dir, config: filepath.Join(dir, "cluster.yaml"), scheme: "http"}
	addrs := freeAddrs(t, e2eNodes)
	if opts.net {
		binds := make([]string, len(addrs))
		for i := range addrs {
			binds[i] = addrs[i][0]
		}
		c.net = newNet(t, binds)
	}
	var yaml strings.Builder
	fmt.Fprintf(&yaml, "data_dir: %s\nrulebook: \"\"\n", filepath.Join(dir, "data"))
	if len(opts.tlsIDs) > 0 || opts.apiTLS {
		c.certs = filepath.Join(dir, "certs")
	}
	if len(opts.tlsIDs) > 0 {
		fmt.Fprintf(&yaml, "tls:\n  ca: %s\n  cert: %s\n  key: %s\n", filepath.Join(c.certs, "ca.pem"),
			filepath.Join(c.certs, "{id}.pem"), filepath.Join(c.certs, "{id}-key.pem"))
	}
	if opts.apiTLS {
		c.scheme = "https"
		fmt.Fprintf(&yaml, "api_tls:\n  cert: %s\n  key: %s\n", filepath.Join(c.certs, "{id}-api.pem"), filepath.Join(c.certs, "{id}-api-key.pem"))
	}
	yaml.WriteString("nodes:\n")
	for i := range e2eNodes {
		p := &e2eProc{
			id:       fmt.Sprintf("n%d", i+1),
			raftAddr: addrs[i][0],
			apiAddr:  addrs[i][1],
			logPath:  filepath.Join(dir, fmt.Sprintf("n%d.log", i+1)),
		}
		if c.net != nil {
			p.raftAddr, p.raftBind = c.net.addr(i), addrs[i][0]
		}
		c.procs = append(c.procs, p)
		fmt.Fprintf(&yaml, "  - id: %s\n    raft_addr: %s\n    api_addr: %s\n", p.id, p.raftAddr, p.apiAddr)
		if p.raftBind != "" {
			fmt.Fprintf(&yaml, "    raft_bind: %s\n", p.raftBind)
		}
	}
	if err := os.WriteFile(c.config, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.certs != "" {
		// As a user runs it: the cluster file names the API hosts the API
		// certificates must carry.
		args := []string{"certs", "--dir", c.certs, "--config", c.config}
		if len(opts.tlsIDs) > 0 {
			args = append(args, "--ids", strings.Join(opts.tlsIDs, ","))
		}
		if out, err := exec.Command(e2eBinary, args...).CombinedOutput(); err != nil {
			t.Fatalf("node certs: %v\n%s", err, out)
		}
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: e2ePollTimeout}).DialContext,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
	}
	if opts.apiTLS {
		// The client verifies every node's API certificate against the
		// dev CA, as a production client does with its own.
		transport.TLSClientConfig = &tls.Config{RootCAs: e2eCAPool(t, c.certs), MinVersion: tls.VersionTLS12}
	}
	// No client-wide timeout: every request carries its own deadline.
	c.http = &http.Client{Transport: transport}
	c.transport = transport
	t.Cleanup(func() {
		c.killAll()
		transport.CloseIdleConnections()
		c.checkLogs()
		if t.Failed() {
			c.dumpLogs()
		}
	})
	return c
}

// freeAddrs returns n pairs of free (raft, api) addresses, one loopback host
// per node (127.0.0.11, .12, ...) where the system allows binding them, as
// Linux does, else 127.0.0.1.
//
// The ports come from below the kernel's ephemeral range (portsBelow): a
// port the kernel chose for a listen on port 0 was free when asked, but
// once closed, before the node's process bound it, the kernel could hand
// the same port to any other socket asking for one, another test's
// included, and the node then failed to start. The kernel never picks a
// port below its range by itself; each is checked free by binding it, and
// this process hands each address out once.
func freeAddrs(t testing.TB, n int) [][2]string {
	t.Helper()
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("127.0.0.%d", 11+i)
		if ln, err := net.Listen("tcp", hosts[i]+":0"); err != nil {
			hosts[i] = "127.0.0.1"
		} else {
			ln.Close()
		}
	}
	lo, hi := portsBelow()
	addrsMu.Lock()
	defer addrsMu.Unlock()
	out := make([][2]string, n)
	for i := range out {
		for j := range out[i] {
			for try := 0; ; try++ {
				if try == 1000 {
					t.Fatalf("no free port on %s in %d-%d after %d tries", hosts[i], lo, hi, try)
				}
				addr := net.JoinHostPort(hosts[i], fmt.Sprint(lo+rand.IntN(hi-lo)))
				if addrsTaken[addr] {
					continue
				}
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					continue
				}
				ln.Close()
				addrsTaken[addr] = true
				out[i][j] = addr
				break
			}
		}
	}
	return out
}

var (
	addrsMu    sync.Mutex
	addrsTaken = map[string]bool{} // handed out by freeAddrs
)

// portsBelow is the range freeAddrs picks ports from: 10,000 ports ending
// 1,000 below the start of the kernel's ephemeral range (Linux's
// ip_local_port_range, 32768 by default), or 20000-29999 where it is not
// known.
func portsBelow() (lo, hi int) {
	start := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v >= 12000 {
				start = v
			}
		}
	}
	return start - 11000, start - 1000
}

// start starts node i from its data directory (new or existing), with its
// output appended to its log file.
func (c *e2eCluster) start(i int) {
	c.t.Helper()
	p := c.procs[i]
	if p.alive() {
		c.t.Fatalf("start %s: already running", p.id)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	p.mu.Lock()
	p.starts++
	fmt.Fprintf(logf, "=== e2e: start %d of %s at %s ===\n", p.starts, p.id, time.Now().Format(time.RFC3339Nano))
	p.mu.Unlock()
	args := append([]string{"serve", "--config", c.config, "--id", p.id}, c.serveArgs...)
	args = append(args, p.extraArgs...)
	cmd := exec.Command(e2eBinary, args...)
	cmd.Env = append(os.Environ(), "TOKENLEDGER_BOOTSTRAP_KEY="+e2eKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start %s: %v", p.id, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.exitErr = cmd, done, nil
	p.mu.Unlock()
	// The process is always reaped, whoever stops it.
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
}

// startAll starts every node.
func (c *e2eCluster) startAll() {
	c.t.Helper()
	for i := range c.procs {
		c.start(i)
	}
}

// signal sends sig to node i's running process.
func (c *e2eCluster) signal(i int, sig syscall.Signal) {
	c.t.Helper()
	cmd, _ := c.procs[i].running()
	if cmd == nil || !c.procs[i].alive() {
		c.t.Fatalf("signal %v to %s: not running", sig, c.procs[i].id)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to %s: %v", sig, c.procs[i].id, err)
	}
}

// waitExit waits, at most e2eExitTimeout, for node i's process to be reaped
// and returns its exit error. It does not touch the test, so it may run on
// any goroutine.
func (c *e2eCluster) waitExit(i int) error { return c.waitExitWithin(i, e2eExitTimeout) }

// waitExitWithin is waitExit with its own bound.
func (c *e2eCluster) waitExitWithin(i int, timeout time.Duration) error {
	p := c.procs[i]
	_, done := p.running()
	select {
	case <-done:
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s", p.id, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// kill crashes node i (SIGKILL) and waits until it is reaped.
func (c *e2eCluster) kill(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGKILL)
	if err := c.waitExit(i); err != nil && !c.procs[i].reaped() {
		c.t.Fatal(err)
	}
}

// term stops node i cleanly (SIGTERM) and returns its exit error.
func (c *e2eCluster) term(i int) error {
	c.t.Helper()
	c.signal(i, syscall.SIGTERM)
	return c.waitExit(i)
}

// logHas reports whether node i's log has a line containing s.
func (c *e2eCluster) logHas(i int, s string) bool { return c.logLine(i, s) != "" }

// logLine returns the first line of node i's log that contains s, or "".
func (c *e2eCluster) logLine(i int, s string) string {
	b, err := os.ReadFile(c.procs[i].logPath)
	if err != nil {
		return ""
	}
	for line := range bytes.Lines(b) {
		if bytes.Contains(line, []byte(s)) {
			return strings.TrimSpace(string(line))
		}
	}
	return ""
}

// killAllNow crashes every node at once and waits until all are reaped.
func (c *e2eCluster) killAllNow() {
	c.t.Helper()
	for i := range c.procs {
		c.signal(i, syscall.SIGKILL)
	}
	for i := range c.procs {
		if err := c.waitExit(i); err != nil && !c.procs[i].reaped() {
			c.t.Fatal(err)
		}
	}
}

// termAll stops every node cleanly (SIGTERM to all at once) and returns each
// one's exit error.
func (c *e2eCluster) termAll() []error {
	c.t.Helper()
	for i := range c.procs {
		c.signal(i, syscall.SIGTERM)
	}
	errs := make([]error, len(c.procs))
	var wg sync.WaitGroup
	for i := range c.procs {
		wg.Go(func() { errs[i] = c.waitExit(i) })
	}
	wg.Wait()
	return errs
}

// pause stops node i's process (SIGSTOP); cont resumes it (SIGCONT).
func (c *e2eCluster) pause(i int) { c.t.Helper(); c.signal(i, syscall.SIGSTOP) }
func (c *e2eCluster) cont(i int)  { c.t.Helper(); c.signal(i, syscall.SIGCONT) }

// killAll kills whatever still runs (a stopped process dies of SIGKILL too)
// and waits, bounded, for each to be reaped.
func (c *e2eCluster) killAll() {
	for _, p := range c.procs {
		if cmd, _ := p.running(); cmd != nil && p.alive() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	for _, p := range c.procs {
		if _, done := p.running(); done != nil {
			select {
			case <-done:
			case <-time.After(e2eExitTimeout):
				c.t.Errorf("%s was not reaped within %s of SIGKILL", p.id, e2eExitTimeout)
			}
		}
	}
}

// logFaults are the line prefixes with which a Go program reports a bug in
// itself: a data race (the binary is built with -race under -race), a panic,
// a fatal runtime error. No fault the tests inject excuses one.
var logFaults = []string{"WARNING: DATA RACE", "panic: ", "fatal error: "}

// checkLogs fails the test if any node's log reports a bug in the node or
// shows a secret: the operator key, or any line of a private key `node
// certs` wrote (the nodes' and their APIs'). Every line is checked, the
// access log's one line per request among them.
func (c *e2eCluster) checkLogs() {
	secrets := []string{e2eKey}
	secrets = append(secrets, c.privateKeyLines()...)
	for _, p := range c.procs {
		f, err := os.Open(p.logPath)
		if err != nil {
			continue // never started
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			for _, fault := range logFaults {
				if strings.HasPrefix(sc.Text(), fault) {
					c.t.Errorf("%s log line %d: %s (see %s)", p.id, n, sc.Text(), p.logPath)
				}
			}
			for k, secret := range secrets {
				if strings.Contains(sc.Text(), secret) {
					what := "the operator key"
					if k > 0 {
						what = "a line of a private key"
					}
					c.t.Errorf("%s log line %d shows %s (see %s)", p.id, n, what, p.logPath)
				}
			}
		}
		f.Close()
	}
}

// privateKeyLines returns the base64 lines of every private key in the
// cluster's certificate directory, which no log may hold.
func (c *e2eCluster) privateKeyLines() []string {
	if c.certs == "" {
		return nil
	}
	paths, err := filepath.Glob(filepath.Join(c.certs, "*-key.pem"))
	if err != nil || len(paths) == 0 {
		c.t.Errorf("no private keys in %s (%v): the log check would miss them", c.certs, err)
		return nil
	}
	var lines []string
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			c.t.Errorf("read %s: %v", path, err)
			continue
		}
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "-----") {
				lines = append(lines, line)
			}
		}
	}
	return lines
}

// dumpLogs prints the tail of every node's log.
func (c *e2eCluster) dumpLogs() {
	for _, p := range c.procs {
		c.t.Logf("---- last %d lines of %s (%s) ----\n%s", e2eLogTail, p.id, p.logPath, tail(p.logPath, e2eLogTail))
	}
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// others returns the indexes of every node but the given ones.
func (c *e2eCluster) others(except ...int) []int {
	var out []int
	for i := range c.procs {
		skip := false
		for _, e := range except {
			skip = skip || i == e
		}
		if !skip {
			out = append(out, i)
		}
	}
	return out
}

// all returns every node's index.
func (c *e2eCluster) all() []int { return c.others() }

// index returns the index of the node with id, or -1.
func (c *e2eCluster) index(id string) int {
	for i, p := range c.procs {
		if p.id == id {
			return i
		}
	}
	return -1
}

// request sends one request to node i with the operator key and returns the
// status and body. timeout bounds it (0: e2eRequestTimeout). It is raw HTTP,
// for routes and bodies the Go client has no call for (/metrics, the
// corporate-action instructions it has no fields for); every other request
// goes through the Go client (e2e_client_test.go).
func (c *e2eCluster) request(ctx context.Context, i int, method, path string, body any, timeout time.Duration) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	if timeout <= 0 {
		timeout = e2eRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL(i)+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, out, err
}

// baseURL is node i's API as a client reaches it: https:// when the
// cluster serves it with api_tls.
func (c *e2eCluster) baseURL(i int) string { return c.scheme + "://" + c.procs[i].apiAddr }

// e2eCAPool is the dev CA of dir as a client trusts it.
func e2eCAPool(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", filepath.Join(dir, "ca.pem"))
	}
	return pool
}

// getJSON reads path from node i into v, wanting 200, under e2ePollTimeout,
// with the Go client's Get sent once to that node alone.
func (c *e2eCluster) getJSON(i int, path string, v any) error {
	status, err := c.onNode(i, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
		return cl.Get(ctx, path, v)
	})
	if err != nil {
		return fmt.Errorf("GET %s on %s: %w", path, c.procs[i].id, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s on %s: %d, want 200", path, c.procs[i].id, status)
	}
	return nil
}

// mustGetJSON is getJSON that fails the test.
func (c *e2eCluster) mustGetJSON(i int, path string, v any) {
	c.t.Helper()
	if err := c.getJSON(i, path, v); err != nil {
		c.t.Fatal(err)
	}
}

// status is GET /v1/cluster as node i answers it.
func (c *e2eCluster) status(i int) (client.ClusterStatus, error) {
	var s client.ClusterStatus
	err := c.getJSON(i, "/v1/cluster", &s)
	return s, err
}

// ready reports whether node i answers /readyz with 200.
func (c *e2eCluster) ready(i int) error {
	status, err := c.onNode(i, e2ePollTimeout, func(ctx context.Context, cl *client.Client) error {
		return cl.Get(ctx, "/readyz", nil)
	})
	if err != nil {
		return fmt.Errorf("%s /readyz: %w", c.procs[i].id, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s /readyz: %d, want 200", c.procs[i].id, status)
	}
	return nil
}

// waitReady waits until node i answers /readyz with 200.
func (c *e2eCluster) waitReady(i int) {
	c.t.Helper()
	waitFor(c.t, e2eStartTimeout, c.procs[i].id+" to be ready", func() (bool, string) {
		if err := c.ready(i); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// waitLeader waits until every node in among is ready and reports the same
// leader, a member of among that reports itself Leader, and returns its index.
// The operator key must be replicated for /v1/cluster to answer, so this also
// waits for that.
func (c *e2eCluster) waitLeader(among []int, timeout time.Duration) int {
	c.t.Helper()
	leader := -1
	waitFor(c.t, timeout, fmt.Sprintf("one leader among %v", c.ids(among)), func() (bool, string) {
		leader = -1
		agreed := ""
		for _, i := range among {
			if err := c.ready(i); err != nil {
				return false, err.Error()
			}
			s, err := c.status(i)
			if err != nil {
				return false, err.Error()
			}
			if s.Leader == "" || (agreed != "" && s.Leader != agreed) {
				return false, fmt.Sprintf("%s sees leader %q, others %q", c.procs[i].id, s.Leader, agreed)
			}
			agreed = s.Leader
		}
		l := c.index(agreed)
		if !slices.Contains(among, l) {
			return false, fmt.Sprintf("leader %q is not among %v", agreed, c.ids(among))
		}
		s, err := c.status(l)
		if err != nil {
			return false, err.Error()
		}
		if s.State != "Leader" {
			return false, fmt.Sprintf("%s is named leader but is %s", agreed, s.State)
		}
		leader = l
		return true, ""
	})
	return leader
}

func (c *e2eCluster) ids(idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = c.procs[i].id
	}
	return out
}
