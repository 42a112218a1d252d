package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tokenledger/tokenledger/client"
)

// Environment of the client commands.
const (
	envURL = "TOKENLEDGER_URL"
	envKey = "TOKENLEDGER_KEY"
	// defaultURL is the single-node default's API (serve's --api-addr).
	defaultURL = "http://127.0.0.1:8080"
)

// globals are the flags every client command shares.
type globals struct {
	urls    string
	key     string
	keyFile string
	caCert  string
	json    bool
}

func (g *globals) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.urls, "url", "", "the node API(s), comma-separated (default $"+envURL+", else "+defaultURL+")")
	f.StringVar(&g.key, "key", "", "API key (default $"+envKey+", else --key-file)")
	f.StringVar(&g.keyFile, "key-file", "", "file holding the API key, e.g. a data dir's operator.key")
	f.StringVar(&g.caCert, "cacert", "", "PEM file of the CA of the nodes' API certificates, for https://")
	f.BoolVar(&g.json, "json", false, "print the API's JSON instead of a table")
}

// resolveKey is --key, else $TOKENLEDGER_KEY, else the --key-file's first line.
func (g *globals) resolveKey() (string, error) {
	if g.key != "" {
		return g.key, nil
	}
	if k := os.Getenv(envKey); k != "" {
		return k, nil
	}
	if g.keyFile != "" {
		b, err := os.ReadFile(g.keyFile)
		if err != nil {
			return "", fmt.Errorf("read --key-file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", errors.New("no key: give --key, $" + envKey + " or --key-file")
}

// client builds the API client of a command.
func (g *globals) client() (*client.Client, error) {
	key, err := g.resolveKey()
	if err != nil {
		return nil, err
	}
	urls := g.urls
	if urls == "" {
		urls = os.Getenv(envURL)
	}
	if urls == "" {
		urls = defaultURL
	}
	cfg := client.Config{Nodes: strings.Split(urls, ","), Key: key}
	if g.caCert != "" {
		pem, err := os.ReadFile(g.caCert)
		if err != nil {
			return nil, fmt.Errorf("read --cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s holds no certificate", g.caCert)
		}
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	return client.New(cfg)
}

// newID is an instruction id for a command given no --id: unique, and
// prefixed so the journal shows it came from the command line. A retry
// inside the client reuses it; a second run of the command is a new
// instruction unless --id names the first.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "cli-" + hex.EncodeToString(b)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, aligned.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// show prints v as JSON under --json, else as the table rows gives.
func (g *globals) show(cmd *cobra.Command, v any, header []string, rows func() [][]string) error {
	if g.json {
		return printJSON(cmd.OutOrStdout(), v)
	}
	return table(cmd.OutOrStdout(), header, rows())
}

// outcome prints an instruction's outcome and turns it into the command's
// exit: nil for accepted or pending, exit 3 for a rule's refusal.
func (g *globals) outcome(cmd *cobra.Command, o client.Outcome, err error) error {
	var rej *client.RejectedError
	if err != nil && !errors.As(err, &rej) {
		return err
	}
	if g.json {
		if perr := printJSON(cmd.OutOrStdout(), o); perr != nil {
			return perr
		}
	} else {
		rows := [][]string{{o.ID, o.Status, fmt.Sprint(o.Seq), ""}}
		for _, r := range o.Reasons {
			rows = append(rows, []string{"", "", "", fmt.Sprintf("%s (%s): %s", r.Code, r.Rule, r.Message)})
		}
		if perr := table(cmd.OutOrStdout(), []string{"ID", "STATUS", "SEQ", "REASON"}, rows); perr != nil {
			return perr
		}
	}
	if rej != nil {
		return &exitError{code: exitRejected, err: err}
	}
	return nil
}
