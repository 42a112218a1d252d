package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	addrs := fs.String("addrs", "http://127.0.0.1:8080", "comma-separated API base URLs; requests go round-robin")
	key := fs.String("key", os.Getenv("TOKENLEDGER_KEY"), "operator key (default $TOKENLEDGER_KEY)")
	clients := fs.Int("clients", 64, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	batch := fs.Int("batch", 1, "instructions per request (1: /v1/instructions, more: /v1/instructions/batch)")
	accounts := fs.Int("accounts", 1000, "investor accounts to spread transfers over")
	prefix := fs.String("prefix", fmt.Sprintf("b%d", time.Now().Unix()), "prefix of the ids this run creates")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		return errors.New("bench: --key or $TOKENLEDGER_KEY is required")
	}
	cfg := benchConfig{addrs: strings.Split(*addrs, ","), key: *key, clients: *clients, duration: *duration,
		batch: *batch, accounts: *accounts, prefix: *prefix}
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

type benchResult struct {
	clients, batch    int
	accepted, refused int64
	failed            int64
	elapsed           time.Duration
	p50, p99          time.Duration
}

func (r benchResult) String() string {
	return fmt.Sprintf("clients=%d batch=%d accepted=%d rejected=%d failed_requests=%d elapsed=%s throughput=%.0f instr/s p50=%s p99=%s",
		r.clients, r.batch, r.accepted, r.refused, r.failed, r.elapsed.Round(time.Millisecond),
		float64(r.accepted)/r.elapsed.Seconds(), r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
}

type benchClient struct {
	cfg  benchConfig
	http *http.Client
	next atomic.Uint64
}

func (c *benchClient) post(ctx context.Context, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	base := c.cfg.addrs[int(c.next.Add(1))%len(c.cfg.addrs)]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, out, err
}

// setup registers a custodian, an issuer, the investors and a cash
// instrument, and funds every investor, in batches.
func (c *benchClient) setup(ctx context.Context) error {
	p := c.cfg.prefix
	var ins []map[string]any
	n := 0
	add := func(m map[string]any) { n++; m["id"] = fmt.Sprintf("%s-setup-%d", p, n); ins = append(ins, m) }
	add(map[string]any{"type": "register_party", "party": map[string]any{"id": p + "-cus", "role": "custodian"}})
	add(map[string]any{"type": "register_party", "party": map[string]any{"id": p + "-iss", "role": "issuer"}})
	if err := c.batchAll(ctx, &ins); err != nil {
		return err
	}
	add(map[string]any{"type": "create_instrument", "instrument": map[string]any{"symbol": strings.ToUpper(p) + "USD", "name": "bench cash",
		"issuer": p + "-iss", "decimals": 2, "regime": "unrestricted",
		"attributes": map[string]any{"underlying": "cash", "payoff": "linear", "embedded_leverage": "1", "expiry_days": 0, "economic_purpose": "payment"}}})
	for i := 0; i < c.cfg.accounts; i++ {
		add(map[string]any{"type": "register_party", "party": map[string]any{"id": fmt.Sprintf("%s-inv-%d", p, i), "role": "investor",
			"status": "retail", "jurisdiction": "US", "kyc_expires_at": "2099-01-01T00:00:00Z", "custodian": p + "-cus"}})
	}
	if err := c.batchAll(ctx, &ins); err != nil {
		return err
	}
	for i := 0; i < c.cfg.accounts; i++ {
		add(map[string]any{"type": "mint", "symbol": strings.ToUpper(p) + "USD", "to": fmt.Sprintf("%s-inv-%d", p, i), "amount": "1000000000"})
	}
	return c.batchAll(ctx, &ins)
}

func (c *benchClient) batchAll(ctx context.Context, ins *[]map[string]any) error {
	for len(*ins) > 0 {
		n := min(len(*ins), 5000)
		status, body, err := c.post(ctx, "/v1/instructions/batch", map[string]any{"instructions": (*ins)[:n]})
		if err != nil {
			return fmt.Errorf("bench setup: %w", err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("bench setup: status %d: %.300s", status, body)
		}
		var out struct {
			Results []struct {
				Status string          `json:"status"`
				Reason json.RawMessage `json:"reason"`
				Error  json.RawMessage `json:"error"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			return fmt.Errorf("bench setup: %w", err)
		}
		for i, r := range out.Results {
			if r.Status != "accepted" {
				return fmt.Errorf("bench setup: instruction %d: %s %s%s", i, r.Status, r.Reason, r.Error)
			}
		}
		*ins = (*ins)[n:]
	}
	return nil
}

func benchRun(ctx context.Context, cfg benchConfig) (benchResult, error) {
	c := &benchClient{cfg: cfg, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients + 8, MaxConnsPerHost: cfg.clients + 8},
	}}
	if err := c.setup(ctx); err != nil {
		return benchResult{}, err
	}
	res := benchResult{clients: cfg.clients, batch: cfg.batch}
	var accepted, refused, failed atomic.Int64
	lat := make([][]time.Duration, cfg.clients)
	runCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < cfg.clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sym := strings.ToUpper(cfg.prefix) + "USD"
			for n := 0; runCtx.Err() == nil; n++ {
				ins := make([]map[string]any, cfg.batch)
				for i := range ins {
					a := (w*7919 + n*cfg.batch + i) % cfg.accounts
					b := (a + 1 + (n+i)%(cfg.accounts-1)) % cfg.accounts
					ins[i] = map[string]any{"id": fmt.Sprintf("%s-%d-%d-%d", cfg.prefix, w, n, i), "type": "transfer",
						"legs": []map[string]any{{"symbol": sym, "from": fmt.Sprintf("%s-inv-%d", cfg.prefix, a), "to": fmt.Sprintf("%s-inv-%d", cfg.prefix, b), "amount": "0.01"}}}
				}
				t0 := time.Now()
				var status int
				var body []byte
				var err error
				if cfg.batch == 1 {
					status, body, err = c.post(runCtx, "/v1/instructions", ins[0])
				} else {
					status, body, err = c.post(runCtx, "/v1/instructions/batch", map[string]any{"instructions": ins})
				}
				if runCtx.Err() != nil {
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
					a, r := countResults(body)
					accepted.Add(a)
					refused.Add(r)
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		res.p50, res.p99 = all[len(all)*50/100], all[min(len(all)-1, len(all)*99/100)]
	}
	res.accepted, res.refused, res.failed = accepted.Load(), refused.Load(), failed.Load()
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
