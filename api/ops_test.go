package api_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// openAPIOperation is the part of an operation the tests read.
type openAPIOperation struct {
	Security  *[]map[string][]string `yaml:"security"`
	Responses map[string]any         `yaml:"responses"`
}

// loadOpenAPI parses the served document into method+path → operation, with
// {param} written :param as echo writes it.
func loadOpenAPI(t *testing.T, doc []byte) map[string]openAPIOperation {
	t.Helper()
	var spec struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node      `yaml:"paths"`
		Comps   map[string]map[string]map[string]any `yaml:"components"`
	}
	if err := yaml.Unmarshal(doc, &spec); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("openapi: %q, want 3.x", spec.OpenAPI)
	}
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	out := map[string]openAPIOperation{}
	for path, ops := range spec.Paths {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q is not written in full", path)
		}
		for method, node := range ops {
			switch method {
			case "get", "post", "put", "delete", "patch", "head", "options":
			default:
				continue
			}
			var op openAPIOperation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			out[strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1")] = op
		}
	}
	return out
}

// TestOpenAPIMatchesRoutes checks the served OpenAPI document against echo's
// real routes: every route documented, every documented route real, and the
// documented need for a key true of the server.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, api.Config{})
	r := e.do("GET", "/v1/openapi.yaml", "", "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("GET /v1/openapi.yaml: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if string(r.body) != string(api.OpenAPI()) {
		t.Errorf("served document differs from api.OpenAPI()")
	}
	documented := loadOpenAPI(t, r.body)

	real := map[string]bool{}
	for _, rt := range api.Routes(e.srv) {
		if rt.Method == echo.RouteNotFound {
			continue
		}
		real[rt.Method+" "+rt.Path] = true
	}
	var missing, extra []string
	for k := range real {
		if _, ok := documented[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !real[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is not in openapi.yaml", k)
	}
	for _, k := range extra {
		t.Errorf("openapi.yaml documents %s, which is no route", k)
	}
	if len(real) < 20 {
		t.Errorf("only %d routes; want every route of API.md", len(real))
	}

	// Every operation says how it fails; one that takes no key says so, and
	// the server agrees with the document.
	for k, op := range documented {
		if len(op.Responses) == 0 {
			t.Errorf("%s documents no responses", k)
		}
		method, path, _ := strings.Cut(k, " ")
		path = strings.NewReplacer(":id", "x", ":symbol", "X").Replace(path)
		open := op.Security != nil && len(*op.Security) == 0
		got := e.do(method, path, "", "").status
		if open && got == http.StatusUnauthorized {
			t.Errorf("%s is documented without a key but answers 401", k)
		}
		if !open && got != http.StatusUnauthorized {
			t.Errorf("%s is documented with a key but answers %d without one", k, got)
		}
	}
}

// TestOpenAPIErrorCodes checks that the document's list of error codes is
// the code table's: every Code constant of errors.go is in the Error
// schema's enum and its status table, and the enum holds nothing else.
func TestOpenAPIErrorCodes(t *testing.T) {
	var consts []string
	file, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					consts = append(consts, strings.Trim(lit.Value, `"`))
				}
			}
		}
	}
	var spec struct {
		Info struct {
			Description string `yaml:"description"`
		} `yaml:"info"`
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `yaml:"enum"`
								} `yaml:"code"`
							} `yaml:"properties"`
						} `yaml:"error"`
					} `yaml:"properties"`
				} `yaml:"Error"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(api.OpenAPI(), &spec); err != nil {
		t.Fatal(err)
	}
	enum := spec.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	if len(consts) < 17 {
		t.Fatalf("found %d codes in errors.go; the parse missed them", len(consts))
	}
	sort.Strings(consts)
	sort.Strings(enum)
	if strings.Join(consts, ",") != strings.Join(enum, ",") {
		t.Errorf("openapi.yaml's error codes %v, errors.go's %v", enum, consts)
	}
	for _, c := range consts {
		if !strings.Contains(spec.Info.Description, c) {
			t.Errorf("the status table of openapi.yaml's description lacks %s", c)
		}
	}
}

// TestOpsEndpoints checks /healthz, /readyz and /metrics.
func TestOpsEndpoints(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	e.must(http.StatusUnprocessableEntity, "inv-a", "POST", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "100000"))
	e.as("inv-a", "POST", "/v1/instructions/batch", `{"instructions":[`+mint("REG", "inv-a", "1")+`]}`)
	e.as("inv-a", "GET", "/v1/parties/inv-b", "")
	e.do("GET", "/no/such/path/1", "", "")
	e.do("GET", "/no/such/path/2", "", "")

	if r := e.do("GET", "/healthz", "", ""); r.status != http.StatusOK {
		t.Errorf("/healthz: %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", ""); r.status != http.StatusOK {
		t.Errorf("/readyz while ready: %d", r.status)
	}
	e.repl.mu.Lock()
	e.repl.ready = false
	e.repl.mu.Unlock()
	if r := e.do("GET", "/readyz", "", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz while not ready: %d, want 503", r.status)
	}

	r := e.do("GET", "/metrics", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("/metrics: %d", r.status)
	}
	body := string(r.body)
	for _, want := range []string{
		`tokenledger_http_requests_total{method="POST",route="/v1/instructions",status="200"}`,
		`tokenledger_http_requests_total{method="GET",route="/v1/parties/:id",status="403"}`,
		`tokenledger_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`tokenledger_http_request_duration_seconds_bucket{method="POST",route="/v1/instructions",status="200",le="`,
		`tokenledger_instructions_total{code="",status="accepted"}`,
		`tokenledger_instructions_total{code="INSUFFICIENT_BALANCE",status="rejected"} 1`,
		`tokenledger_instructions_total{code="NOT_AUTHORIZED",status="error"} 1`,
		`tokenledger_raft_state{state="Leader"} 1`,
		`tokenledger_raft_state{state="Follower"} 0`,
		`tokenledger_raft_term 1`,
		`tokenledger_raft_has_leader 1`,
		`tokenledger_ready 0`,
		`tokenledger_ledger_applied_index `,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestConfig checks Validate and the defaults.
func TestConfig(t *testing.T) {
	store := newEnv(t, api.Config{}).store
	repl := newFakeReplicator(store)
	tests := []struct {
		name string
		cfg  api.Config
		ok   bool
	}{
		{"defaults", api.Config{Reader: store, Replicator: repl}, true},
		{"no reader", api.Config{Replicator: repl}, false},
		{"no replicator", api.Config{Reader: store}, false},
		{"body limit too small", api.Config{Reader: store, Replicator: repl, MaxBodyBytes: 1}, false},
		{"body limit too large", api.Config{Reader: store, Replicator: repl, MaxBodyBytes: api.MaxBodyBytesLimit + 1}, false},
		{"negative timeout", api.Config{Reader: store, Replicator: repl, RequestTimeout: -time.Second}, false},
		{"timeout too long", api.Config{Reader: store, Replicator: repl, RequestTimeout: time.Hour}, false},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
		if _, err := api.New(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%s: New() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestLimits asserts the relations between the limits.
func TestLimits(t *testing.T) {
	const smallTransfer = 200 // bytes of a one-leg transfer
	if api.DefaultMaxBodyBytes < api.MaxBatchInstructions*smallTransfer*4 {
		t.Errorf("DefaultMaxBodyBytes %d does not hold a full batch of transfers four times", api.DefaultMaxBodyBytes)
	}
	if api.DefaultMaxBodyBytes < transfer.MaxRulebookSize*6+1024 {
		t.Errorf("DefaultMaxBodyBytes %d does not hold the largest rulebook with every byte escaped", api.DefaultMaxBodyBytes)
	}
	if api.MinBodyBytes > api.DefaultMaxBodyBytes || api.DefaultMaxBodyBytes > api.MaxBodyBytesLimit {
		t.Errorf("DefaultMaxBodyBytes outside MinBodyBytes..MaxBodyBytesLimit")
	}
	if api.DefaultRequestTimeout <= 0 || api.DefaultRequestTimeout > api.MaxRequestTimeout {
		t.Errorf("DefaultRequestTimeout outside 0..MaxRequestTimeout")
	}
	if key, err := api.NewKey(); err != nil || len(key) > api.MaxKeyBytes {
		t.Errorf("NewKey() = %d bytes, %v; want at most MaxKeyBytes", len(key), err)
	}
}

// TestUnavailable: until the node has caught up once since it started, and
// while it stops after a storage fault, every keyed route answers 503 with
// the state's code (never 500) and changes nothing; /healthz answers 200.
// Catching up leaves GET /v1/cluster open, so an operator can see why, and
// /readyz tells a load balancer to look elsewhere either way.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		retryAfter bool
		set        func(f *fakeReplicator, on bool)
	}{
		{"catching up", "NOT_READY", true, func(f *fakeReplicator, on bool) { f.lagging = on }},
		{"failing", "NODE_FAILING", false, func(f *fakeReplicator, on bool) { f.failing = on }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, api.Config{})
			e.world()
			before := e.hashes()
			set := func(on bool) {
				e.repl.mu.Lock()
				defer e.repl.mu.Unlock()
				tc.set(e.repl, on)
			}
			set(true)
			for _, rq := range []struct{ method, path, body string }{
				{"POST", "/v1/instructions", transferBody("REG", "inv-a", "inv-b", "1")},
				{"POST", "/v1/instructions/batch", `{"instructions":[` + mint("REG", "inv-a", "1") + `]}`},
				{"POST", "/v1/check", transferBody("REG", "inv-a", "inv-b", "1")},
				{"GET", "/v1/parties/inv-a/holdings", ""},
				{"GET", "/v1/journal", ""},
				{"POST", "/v1/keys", `{"party_id":"inv-a"}`},
			} {
				r := e.as("operator", rq.method, rq.path, rq.body)
				if r.status != http.StatusServiceUnavailable || r.errorCode() != tc.code || (r.header.Get("Retry-After") != "") != tc.retryAfter {
					t.Errorf("%s %s: %d %s (Retry-After %q), want 503 %s", rq.method, rq.path, r.status, r.body, r.header.Get("Retry-After"), tc.code)
				}
			}
			if r := e.do("GET", "/readyz", "", ""); tc.code == "NODE_FAILING" && r.status != http.StatusServiceUnavailable {
				t.Errorf("/readyz: %d, want 503", r.status)
			}
			if tc.code == "NOT_READY" {
				e.must(http.StatusOK, "operator", "GET", "/v1/cluster", "")
			}
			if r := e.do("GET", "/healthz", "", ""); r.status != http.StatusOK {
				t.Errorf("/healthz: %d, want 200 (the process is up)", r.status)
			}
			if after := e.hashes(); after != before {
				t.Errorf("state changed: %+v -> %+v", before, after)
			}
			set(false)
			e.must(http.StatusOK, "inv-a", "GET", "/v1/parties/inv-a/holdings", "")
		})
	}
}

// TestLedgerFaultIsUnavailable: a read that meets the ledger's own storage
// fault answers 503 NODE_FAILING, not a 500.
func TestLedgerFaultIsUnavailable(t *testing.T) {
	// The ledger's own fault, met by a read (here the key lookup of
	// authentication), is the same 503, and no fault to log as a 500.
	status, code, _, fault := api.ErrorResponse(fmt.Errorf("resolve key: %w", fmt.Errorf("%w: commit state.db: no space left", ledger.ErrStorageFault)))
	if status != http.StatusServiceUnavailable || code != api.CodeNodeFailing || fault {
		t.Errorf("a read after the ledger's storage fault: %d %s (fault %v), want 503 NODE_FAILING", status, code, fault)
	}
	// A restored state that failed its checks stops the node too, and its
	// message says so, not that the disk failed.
	checkFault := &ledger.FaultError{Step: "check", Path: "state.db", Err: errors.New("2 findings")}
	status, code, msg, fault := api.ErrorResponse(fmt.Errorf("read state: %w", checkFault))
	if status != http.StatusServiceUnavailable || code != api.CodeNodeFailing || fault ||
		!strings.Contains(msg, "failed its checks") || strings.Contains(msg, "storage fault") {
		t.Errorf("a read after a failed check: %d %s %q (fault %v), want 503 NODE_FAILING naming the check", status, code, msg, fault)
	}
}
