package walkthrough

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserWait bounds each wait for the page to show something.
const browserWait = 15 * time.Second

// chromium finds a Chromium to drive. Without one the test skips, except in
// CI, which installs Debian's chromium first (.ci/run): there a missing
// browser is a failure, so the console is never silently left untested.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH; .ci/run installs Debian's chromium")
	}
	t.Skip("the console's browser test needs chromium on PATH")
	return ""
}

// pageProblems collects what the page reported as broken: uncaught
// exceptions, console.error calls, and browser log errors such as a
// Content-Security-Policy violation. The network's own reports of 4xx
// answers are not problems: the test provokes them (a bad key, a rejection).
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		problem = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			problem += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			problem = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.LevelError && ev.Entry.Source != cdplog.SourceNetwork {
			problem = fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if problem != "" {
		p.mu.Lock()
		p.list = append(p.list, problem)
		p.mu.Unlock()
	}
}

func (p *pageProblems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// shownText is a script for the text an element shows: a form field's value,
// any other element's text.
const shownText = `((e) => !e ? '' : (e.tagName === 'TEXTAREA' || e.tagName === 'INPUT') ? e.value : e.textContent)(document.getElementById(%q))`

// waitText waits until the element with id shows want.
func waitText(id, want string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		expr := fmt.Sprintf(shownText+`.includes(%q)`, id, want)
		err := chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(browserWait), chromedp.WithPollingInterval(50*time.Millisecond)).Do(ctx)
		if err != nil {
			var got string
			_ = chromedp.Evaluate(fmt.Sprintf(shownText, id), &got).Do(ctx)
			return fmt.Errorf("#%s never showed %q (it shows %.400q): %w", id, want, got, err)
		}
		return nil
	})
}

// clickRow clicks the row of the table in the element with id whose text
// has want, as a user picks a party or an instrument.
func clickRow(id, want string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var ok bool
		expr := fmt.Sprintf(`(() => { const tr = [...document.querySelectorAll('#' + %q + ' tr.pick')].find((r) => r.textContent.includes(%q)); if (tr) tr.click(); return !!tr; })()`, id, want)
		if err := chromedp.Evaluate(expr, &ok).Do(ctx); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("#%s has no row with %q", id, want)
		}
		return nil
	})
}

// tab opens one of the console's tabs.
func tab(name string) chromedp.Action {
	return chromedp.Click(fmt.Sprintf(`#tabs button[data-tab=%q]`, name), chromedp.ByQuery)
}

// TestConsoleInBrowser drives the web console at /ui/ in headless Chromium
// against a real node holding the README quickstart's data: a wrong key is
// refused on screen; the operator's key signs in and every tab shows the
// node's data; the submit tab's dry run and write show the rejection with
// its reason codes and an acceptance that the API then serves; signing out
// leaves no key in the tab. The page must run under its own strict CSP with
// no exception, console error or policy violation.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and a browser")
	}
	browser := chromium(t)
	script := quickstartScript(t)
	dir, apiAddr := startNode(t)
	runQuickstart(t, dir, apiAddr, script)
	key := operatorKey(t, dir)

	// Not t.TempDir: Chromium may still write to its profile as it exits,
	// which would fail the test's own clean-up.
	profile, err := os.MkdirTemp("", "tokenledger-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		// This machine has no network beyond loopback: keep Chromium from
		// reaching out at all.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	var problems pageProblems
	chromedp.ListenTarget(bctx, problems.listen)

	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(bctx, actions...); err != nil {
			t.Fatalf("%s: %v\npage problems: %q", what, err, problems.all())
		}
	}
	url := "http://" + apiAddr + "/ui/"
	run("open the console", cdplog.Enable(), chromedp.Navigate(url), chromedp.WaitVisible("#key", chromedp.ByID))

	run("a wrong key is refused",
		chromedp.SendKeys("#key", "tl_not-a-key", chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		waitText("signin-out", "401"),
	)
	var consoleHidden bool
	run("still signed out", chromedp.Evaluate(`document.getElementById('console').hidden`, &consoleHidden))
	if !consoleHidden {
		t.Error("the console opened for a wrong key")
	}

	run("sign in as operator",
		chromedp.Evaluate(`document.getElementById('key').value = ''`, nil),
		chromedp.SendKeys("#key", key, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#console", chromedp.ByID),
		waitText("cluster-out", "Leader"),
		waitText("cluster-out", nodeID),
		waitText("whoami", "Signed in"),
	)
	var keyField string
	run("read the key field", chromedp.Value("#key", &keyField, chromedp.ByID))
	if keyField != "" {
		t.Error("the key is still in the sign-in field after signing in")
	}

	run("parties and holdings",
		tab("parties"),
		waitText("parties-out", "alice"),
		waitText("parties-out", "cus-bank"),
		clickRow("parties-out", "alice"),
		waitText("party-out", "Party alice"),
		waitText("party-out", "ACME"),
		waitText("party-out", "1000"),
	)
	var holdersNextDisabled bool
	run("instruments and cap table",
		tab("instruments"),
		waitText("instruments-out", "Acme Corp common"),
		clickRow("instruments-out", "ACME"),
		waitText("instrument-title", "ACME"),
		chromedp.Click(`#holders-form button[type=submit]`, chromedp.ByQuery),
		waitText("holders-out", "alice"),
		chromedp.Evaluate(`document.getElementById('holders-next').disabled`, &holdersNextDisabled),
	)
	// The quickstart's register fits one page, so there is no next page.
	if !holdersNextDisabled {
		t.Error("the cap table offers a next page, though it fits one page")
	}
	run("journal and its verification",
		tab("journal"),
		waitText("journal-out", "qs-10"),
		clickRow("journal-out", "qs-9"),
		waitText("entry-out", "LOCKUP_ACTIVE"),
		waitText("entry-out", "Previous hash"),
		chromedp.Click("#journal-verify", chromedp.ByID),
		waitText("verify-out", "Chain verified."),
	)

	// The transfer template moves ACME from alice to bob: refused, as in
	// the quickstart, with both reasons.
	run("dry run of a refused transfer",
		tab("submit"),
		chromedp.SetValue("#template", "transfer", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('template').dispatchEvent(new Event('change'))`, nil),
		waitText("instruction", `"ACME"`),
		chromedp.Click("#check", chromedp.ByID),
		waitText("outcome-out", "Would be rejected"),
		waitText("outcome-out", "INVESTOR_NOT_ELIGIBLE"),
		waitText("outcome-out", "LOCKUP_ACTIVE"),
	)
	run("a refused write",
		chromedp.Click("#submit", chromedp.ByID),
		waitText("outcome-out", "Rejected"),
		waitText("outcome-out", "Journal seq"),
	)
	accepted := `{"id": "console-1", "type": "transfer", "legs": [{"symbol": "USD", "from": "bob", "to": "alice", "amount": "1.25"}]}`
	run("an accepted write",
		chromedp.SetValue("#instruction", accepted, chromedp.ByID),
		chromedp.Click("#submit", chromedp.ByID),
		waitText("outcome-out", "Accepted"),
	)
	var out struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	getJSON(t, apiAddr, key, "/v1/instructions/console-1", &out)
	if out.Status != "accepted" {
		t.Errorf("GET /v1/instructions/console-1 = %+v, want accepted", out)
	}

	run("the rulebook", tab("rulebook"), waitText("rulebook-out", "Version"))

	// The console's pictures and tools, each screenshotted for a person to
	// look at (the test logs where).
	shots := screenshotDir(t)
	run("a wide window", chromedp.EmulateViewport(1280, 1000))
	run("the live journal shows what is committed", tab("live"), waitText("live-out", "qs-10"))
	postJSON(t, apiAddr, key, "/v1/instructions",
		`{"id": "console-live-1", "type": "transfer", "legs": [{"symbol": "USD", "from": "bob", "to": "alice", "amount": "0.75"}]}`, &out)
	run("and a new entry as it commits",
		waitText("live-out", "console-live-1"),
		screenshot(shots, "live-journal.png"),
	)
	run("the ownership and supply charts",
		tab("instruments"),
		clickRow("instruments-out", "ACME"),
		waitText("chart-owners-legend", "alice: 1000"),
		waitText("chart-supply-legend", "Supply 1000"),
		screenshot(shots, "charts.png"),
	)
	var canvases int
	run("count the charts' canvases", chromedp.Evaluate(`document.querySelectorAll('#chart-owners canvas, #chart-supply canvas').length`, &canvases))
	if canvases != 2 {
		t.Errorf("the instrument shows %d chart canvases, want 2", canvases)
	}
	// No account is in a margin call here: the list answers, empty.
	run("margin calls", tab("margin"), waitText("margin-out", "Deficit"), waitText("margin-out", "none"))
	run("classify and lint",
		tab("tools"),
		chromedp.Click(`#classify-form button[type=submit]`, chromedp.ByQuery),
		waitText("classify-out", "Regulator"),
		chromedp.Click("#lint-current", chromedp.ByID),
		waitText("lint-yaml", "version"),
		chromedp.Click(`#lint-form button[type=submit]`, chromedp.ByQuery),
		waitText("lint-out", "findings"),
	)
	// A register to import: an instrument offered in the past, and a file
	// with a bad row first, then the good file.
	postJSON(t, apiAddr, key, "/v1/instructions", `{"id": "console-old", "type": "create_instrument", "instrument": {
		"symbol": "OLDCO", "name": "Old Co common", "issuer": "iss-acme", "decimals": 0, "regime": "registered",
		"offering_date": "2020-01-01T00:00:00Z", "attributes": {"underlying": "enterprise_equity", "payoff": "linear",
		"embedded_leverage": "1", "expiry_days": 0, "economic_purpose": "capital_formation"}}}`, &out)
	csvDir := t.TempDir()
	head := "holder_id,role,status,jurisdiction,kyc_expires_at,custodian,symbol,amount,acquired_at\n"
	badCSV := filepath.Join(csvDir, "bad.csv")
	goodCSV := filepath.Join(csvDir, "register.csv")
	writeFile(t, badCSV, head+"carol,investor,accredited,US,2030-01-01,cus-bank,OLDCO,500,2024-01-01\ndave,investor,rich,US,2030-01-01,cus-bank,OLDCO,x,2024-01-01\n")
	writeFile(t, goodCSV, head+"carol,investor,accredited,US,2030-01-01,cus-bank,OLDCO,500,2024-01-01\n"+
		"dave,investor,retail,US,2030-01-01,cus-bank,OLDCO,250,2024-06-01\nalice,investor,accredited,US,2030-01-01,cus-bank,OLDCO,100,2023-03-01\n")
	run("an import with bad rows sends nothing",
		chromedp.SetUploadFiles("#import-file", []string{badCSV}, chromedp.ByID),
		chromedp.Click(`#import-form button[type=submit]`, chromedp.ByQuery),
		waitText("import-out", "2 bad rows"),
	)
	run("an import",
		chromedp.SetUploadFiles("#import-file", []string{goodCSV}, chromedp.ByID),
		chromedp.Click(`#import-form button[type=submit]`, chromedp.ByQuery),
		waitText("import-out", "Accepted"),
		waitText("import-status", "6/6 instructions"), // alice is registered already
		screenshot(shots, "tools.png"),
	)
	var oldco struct {
		Supply string `json:"supply"`
	}
	getJSON(t, apiAddr, key, "/v1/instruments/OLDCO", &oldco)
	if oldco.Supply != "850" {
		t.Errorf("OLDCO supply after the console's import = %q, want 850", oldco.Supply)
	}

	var stored int
	run("sign out",
		chromedp.Click("#signout", chromedp.ByID),
		chromedp.WaitVisible("#key", chromedp.ByID),
		chromedp.Evaluate(`sessionStorage.length`, &stored),
	)
	if stored != 0 {
		t.Errorf("sessionStorage holds %d items after signing out, want none", stored)
	}
	var nodes []*cdp.Node
	run("console hidden", chromedp.Nodes("#console[hidden]", &nodes, chromedp.ByQuery, chromedp.AtLeast(0)))
	if len(nodes) != 1 {
		t.Error("the console is still shown after signing out")
	}

	// An investor's key shows the investor's own world only.
	var made struct {
		Key string `json:"key"`
	}
	postJSON(t, apiAddr, key, "/v1/keys", `{"party_id": "alice"}`, &made)
	run("sign in as alice",
		chromedp.SendKeys("#key", made.Key, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#console", chromedp.ByID),
		waitText("whoami", "alice (investor)"),
		tab("parties"),
		waitText("parties-out", "alice"),
		tab("journal"),
		waitText("journal-out", "qs-10"),
	)
	var parties, journal string
	run("read what alice sees",
		chromedp.Evaluate(fmt.Sprintf(shownText, "parties-out"), &parties),
		chromedp.Evaluate(fmt.Sprintf(shownText, "journal-out"), &journal),
	)
	if strings.Contains(parties, "bob") || strings.Contains(parties, "iss-acme") {
		t.Errorf("alice's parties tab shows others: %q", parties)
	}
	if strings.Contains(journal, "qs-8") {
		t.Errorf("alice's journal shows bob's mint qs-8: %q", journal)
	}

	if p := problems.all(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
}

// screenshotDir is where the console's screenshots go:
// $TOKENLEDGER_SCREENSHOTS, else a fixed folder under the temp dir, so a
// person can open them after the run.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TOKENLEDGER_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tokenledger-console-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", dir)
	return dir
}

// screenshot saves the whole page as dir/name.
func screenshot(dir, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var png []byte
		// Quality 100 is PNG; anything less is JPEG.
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), png, 0o644)
	})
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func getJSON(t *testing.T, apiAddr, key, path string, v any) {
	t.Helper()
	callJSON(t, apiAddr, key, http.MethodGet, path, "", v)
}

func postJSON(t *testing.T, apiAddr, key, path, body string, v any) {
	t.Helper()
	callJSON(t, apiAddr, key, http.MethodPost, path, body, v)
}

// callJSON makes one API call that must answer 200 or 201 and decodes its
// body.
func callJSON(t *testing.T, apiAddr, key, method, path, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+apiAddr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, got)
	}
	if err := json.Unmarshal(got, v); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, got)
	}
}
