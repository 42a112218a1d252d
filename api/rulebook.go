package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// MaxLintBodyBytes bounds a POST /v1/rulebook/lint body: the largest
// rulebook set_rulebook takes, every byte escaped as \u00XX, and room for
// the envelope. Linting parses the text and walks every holding, so it gets
// a bound of its own below the write path's.
const MaxLintBodyBytes = 6*transfer.MaxRulebookSize + 4<<10

// rulebookBody is GET /v1/rulebook.
type rulebookBody struct {
	Version string `json:"version"`
	YAML    string `json:"yaml"`
	// Scheduled is a rulebook set to take force later; absent without one.
	Scheduled *scheduledBody `json:"scheduled,omitempty"`
}

type scheduledBody struct {
	Version     string    `json:"version"`
	EffectiveAt time.Time `json:"effective_at"`
}

func (s *Server) getRulebook(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	// The schedule is read first: a batch that puts it in force between
	// the two reads then shows the new rulebook without a schedule, or
	// the old with it, never neither.
	sched, err := s.reader.ScheduledRulebook()
	if err != nil {
		return fmt.Errorf("read scheduled rulebook: %w", err)
	}
	rb := s.reader.Rulebook()
	body := rulebookBody{Version: rb.Version(), YAML: string(rb.YAML())}
	if sched != nil {
		body.Scheduled = &scheduledBody{Version: sched.Rulebook.Version(), EffectiveAt: sched.EffectiveAt}
	}
	return writeJSON(c, http.StatusOK, body)
}

// lintRequest is POST /v1/rulebook/lint.
type lintRequest struct {
	Rulebook string `json:"rulebook"`
}

// lintBody answers POST /v1/rulebook/lint: the findings of lint, and what
// the proposed rulebook would put out of compliance today.
type lintBody struct {
	Findings []eligibility.Finding `json:"findings"`
	Impact   []ledger.ImpactItem   `json:"impact"`
	// Truncated says impact stopped at ledger.MaxImpact items.
	Truncated bool `json:"truncated,omitempty"`
}

// parseLintRequest decodes a lint body and parses its rulebook. A rulebook
// that does not parse is 400 INVALID naming the bad field, as set_rulebook
// would refuse it.
func parseLintRequest(body []byte) (*eligibility.Rulebook, error) {
	var req lintRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	if req.Rulebook == "" {
		return nil, invalid("rulebook is required")
	}
	if len(req.Rulebook) > transfer.MaxRulebookSize {
		return nil, newError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("rulebook is larger than %d bytes", transfer.MaxRulebookSize))
	}
	rb, err := eligibility.Parse([]byte(req.Rulebook))
	if err != nil {
		return nil, invalid(fmt.Sprintf("the rulebook does not parse: %v", err))
	}
	return rb, nil
}

// lintRulebook is POST /v1/rulebook/lint (operator, auditor).
func (s *Server) lintRulebook(c echo.Context) error {
	if err := requireRole(who(c), eligibility.RoleOperator, eligibility.RoleAuditor); err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	body, err := s.readBodyLimit(c, min(s.cfg.MaxBodyBytes, MaxLintBodyBytes))
	if err != nil {
		return err
	}
	rb, err := parseLintRequest(body)
	if err != nil {
		return err
	}
	// "Today" is this node's clock, as for dry runs: the report reads the
	// state, it writes nothing.
	impact, err := s.reader.Impact(rb, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("rulebook impact: %w", err)
	}
	out := lintBody{Findings: eligibility.Lint(rb), Impact: impact.Items, Truncated: impact.Truncated}
	if out.Findings == nil {
		out.Findings = []eligibility.Finding{}
	}
	if out.Impact == nil {
		out.Impact = []ledger.ImpactItem{}
	}
	return writeJSON(c, http.StatusOK, out)
}
