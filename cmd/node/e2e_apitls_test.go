//go:build unix

package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2E_APIOverHTTPS runs the production shape of the API: three real
// processes with mutual TLS between them and HTTPS for the API, with the
// certificates `node certs --config` makes, and a client that verifies each
// node's certificate against the dev CA. Writes through a follower and the
// leader are acknowledged; a client that does not trust the CA is refused at
// the handshake; plain HTTP to the HTTPS port gets no answer from the API;
// `node bench --cacert` loads the cluster over HTTPS. Every node writes the
// access log, whose line for a request carries the id its response did and
// no secret (checkLogs then reads every line for the operator key and the
// private keys' material).
func TestE2E_APIOverHTTPS(t *testing.T) {
	c := newClusterWith(t, clusterOpts{tlsIDs: []string{"n1", "n2", "n3"}, apiTLS: true})
	leader, h := c.begin()
	follower := c.others(leader)[0]
	c.mustSubmit(h, transferOp(newRand(41), "https-via-follower"), follower, "accepted")
	c.mustSubmit(h, transferOp(newRand(42), "https-via-leader"), leader, "accepted")

	t.Run("client that does not trust the CA", func(t *testing.T) {
		client := &http.Client{Timeout: e2ePollTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
		defer client.CloseIdleConnections()
		resp, err := client.Get(c.baseURL(follower) + "/readyz")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("served %d to a client that does not trust the dev CA", resp.StatusCode)
		}
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("error %v, want the certificate's unknown authority", err)
		}
	})

	t.Run("plain HTTP to the HTTPS port", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "http://"+c.procs[leader].apiAddr+"/v1/cluster", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e2eKey)
		client := &http.Client{Timeout: e2ePollTimeout}
		resp, err := client.Do(req)
		if err != nil {
			return // refused at the transport: nothing reached the API
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		// net/http answers 400 before any TLS, so no handler ran.
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Request-ID") != "" || strings.Contains(string(body), `"leader"`) {
			t.Errorf("plain HTTP: %d %q (request id %q), want net/http's 400 and no API answer", resp.StatusCode, body, resp.Header.Get("X-Request-ID"))
		}
	})

	t.Run("access log", func(t *testing.T) {
		const id = "e2e-https-probe-1"
		req, err := http.NewRequest(http.MethodGet, c.baseURL(follower)+"/v1/cluster", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e2eKey)
		req.Header.Set("X-Request-ID", id)
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.Header.Get("X-Request-ID") != id {
			t.Fatalf("GET /v1/cluster: %d, TLS %v, X-Request-ID %q", resp.StatusCode, resp.TLS != nil, resp.Header.Get("X-Request-ID"))
		}
		if v := resp.TLS.Version; v != tls.VersionTLS13 {
			t.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(v))
		}
		var line string
		waitFor(t, e2ePollTimeout, "the access log line of "+id, func() (bool, string) {
			line = c.logLine(follower, `"request_id":"`+id+`"`)
			return line != "", "not logged yet"
		})
		var l struct {
			Msg, Method, Route, Party string
			Status                    int
			RemoteAddr                string `json:"remote_addr"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("access log line is not JSON: %v: %s", err, line)
		}
		if l.Msg != "request" || l.Method != "GET" || l.Route != "/v1/cluster" || l.Party != "operator" || l.Status != http.StatusOK || l.RemoteAddr == "" {
			t.Errorf("access log line %s", line)
		}
		for i := range c.procs {
			if !c.logHas(i, `"msg":"request"`) {
				t.Errorf("%s wrote no access log", c.procs[i].id)
			}
		}
	})

	// Before the bench, whose instructions the history does not hold.
	c.checkHistory(h, c.all())

	t.Run("bench with --cacert", func(t *testing.T) {
		addrs := make([]string, len(c.procs))
		for i := range c.procs {
			addrs[i] = c.baseURL(i)
		}
		bench := func(extra ...string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), e2eConvergeTimeout)
			defer cancel()
			args := append([]string{"bench", "--addrs", strings.Join(addrs, ","), "--key", e2eKey,
				"--clients", "2", "--duration", "300ms", "--accounts", "10"}, extra...)
			out, err := exec.CommandContext(ctx, e2eBinary, args...).CombinedOutput()
			return string(out), err
		}
		out, err := bench("--cacert", filepath.Join(c.certs, "ca.pem"), "--prefix", "https-bench")
		if err != nil {
			t.Fatalf("node bench --cacert: %v\n%s", err, out)
		}
		res := parseBench(t, out)
		if res["accepted"] == 0 || res["failed_requests"] != 0 {
			t.Errorf("bench over HTTPS: %s", out)
		}
		if out, err := bench("--prefix", "https-bench-untrusted"); err == nil || !strings.Contains(out, "certificate") {
			t.Errorf("bench without --cacert: %v\n%s; want a certificate error", err, out)
		}
	})
}

// TestE2E_APITLSRefusesBadCertificate: a node whose API certificate is not
// there exits at start with the file named, and serves nothing.
func TestE2E_APITLSRefusesBadCertificate(t *testing.T) {
	c := newClusterWith(t, clusterOpts{apiTLS: true})
	cert := filepath.Join(c.certs, "n1-api.pem")
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	c.start(0)
	err := c.waitExitWithin(0, e2eStartTimeout)
	if err == nil {
		t.Fatal("n1 started without its API certificate")
	}
	if line := c.logLine(0, "n1-api.pem"); !strings.Contains(line, "api_tls") {
		t.Errorf("n1's log does not name the missing file: %q", line)
	}
	if _, statErr := os.Stat(filepath.Join(c.dir, "data", "n1")); !os.IsNotExist(statErr) {
		t.Errorf("n1's data dir was created: %v", statErr)
	}
}
