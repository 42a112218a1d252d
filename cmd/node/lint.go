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
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
)

// lintTimeout bounds the --impact request: the node walks every holding.
const lintTimeout = 2 * time.Minute

// lintUsage is the command line of `rulebook lint`.
const lintUsage = "usage: node rulebook lint [--strict] [--impact --url URL --key KEY [--cacert FILE]] [FILE]"

// errLintStrict is returned under --strict when lint found anything.
var errLintStrict = errors.New("rulebook lint: findings under --strict")

// runRulebook: `rulebook lint [FILE]` prints the findings of Lint for FILE
// (default: the embedded rulebook). It exits non-zero when the file does not
// parse, and, under --strict, on any finding or impact item (they resolve,
// so they are not errors otherwise). --impact asks the node at --url which
// holdings and accounts the rulebook would put out of compliance today
// (POST /v1/rulebook/lint, an operator's or auditor's key) and prints them.
func runRulebook(args []string) error {
	return lintRulebook(context.Background(), os.Stdout, args)
}

func lintRulebook(ctx context.Context, out io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "lint" {
		return errors.New(lintUsage)
	}
	fs := flag.NewFlagSet("rulebook lint", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	strict := fs.Bool("strict", false, "exit non-zero on any finding (and, with --impact, any impact item)")
	impact := fs.Bool("impact", false, "ask the node at --url what the rulebook would put out of compliance today")
	url := fs.String("url", "", "the node's API, e.g. http://127.0.0.1:8080 (with --impact)")
	key := fs.String("key", "", "an operator's or auditor's API key (with --impact)")
	caCert := fs.String("cacert", "", "PEM file of the CA of the node's API certificate, for https:// (default: the system's roots)")
	// Flags may come before or after FILE.
	var files []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("%w\n%s", err, lintUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) > 1 {
		return fmt.Errorf("one FILE at most\n%s", lintUsage)
	}
	if *impact && (*url == "" || *key == "") {
		return fmt.Errorf("--impact needs --url and --key\n%s", lintUsage)
	}
	rb, name, text := eligibility.Default(), "embedded default", eligibility.Default().YAML()
	if len(files) == 1 {
		var err error
		if text, err = os.ReadFile(files[0]); err != nil {
			return err
		}
		if rb, err = eligibility.Parse(text); err != nil {
			return err
		}
		name = files[0]
	}
	findings := eligibility.Lint(rb)
	fmt.Fprintf(out, "rulebook %s (version %s): %d findings\n", name, rb.Version(), len(findings))
	for _, f := range findings {
		fmt.Fprintf(out, "- %s: %s\n  rules: %s\n  resolution: %s\n  %s\n", f.Kind, f.Subject, strings.Join(f.Rules, ", "), f.Resolution, f.Message)
	}
	items := 0
	if *impact {
		report, err := fetchImpact(ctx, *url, *key, *caCert, text)
		if err != nil {
			return err
		}
		items = len(report.Impact)
		fmt.Fprintf(out, "impact at %s: %d holdings or accounts out of compliance today\n", *url, items)
		for _, it := range report.Impact {
			fmt.Fprintf(out, "- %s %s: %s (%s)\n  %s\n", it.Party, it.Symbol, it.Code, it.Rule, it.Message)
		}
		if report.Truncated {
			fmt.Fprintf(out, "(cut short at %d items)\n", ledger.MaxImpact)
		}
	}
	if *strict && len(findings)+items > 0 {
		return errLintStrict
	}
	return nil
}

// impactReport is the answer of POST /v1/rulebook/lint.
type impactReport struct {
	Findings  []eligibility.Finding `json:"findings"`
	Impact    []ledger.ImpactItem   `json:"impact"`
	Truncated bool                  `json:"truncated"`
}

func fetchImpact(ctx context.Context, url, key, caCert string, text []byte) (impactReport, error) {
	tlsCfg, err := benchTLS(caCert)
	if err != nil {
		return impactReport{}, err
	}
	client := &http.Client{Timeout: lintTimeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	body, err := json.Marshal(map[string]string{"rulebook": string(text)})
	if err != nil {
		return impactReport{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/v1/rulebook/lint", bytes.NewReader(body))
	if err != nil {
		return impactReport{}, fmt.Errorf("rulebook lint: --url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return impactReport{}, fmt.Errorf("rulebook lint: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return impactReport{}, fmt.Errorf("rulebook lint: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return impactReport{}, fmt.Errorf("rulebook lint: the node answered %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var report impactReport
	if err := json.Unmarshal(raw, &report); err != nil {
		return impactReport{}, fmt.Errorf("rulebook lint: decode the answer: %w", err)
	}
	return report, nil
}
