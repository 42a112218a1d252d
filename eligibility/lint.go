package eligibility

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// Finding kinds.
const (
	// FindingConflict: two or more rules answer the same case differently.
	FindingConflict = "conflict"
	// FindingGap: no rule answers a case.
	FindingGap = "gap"
)

// Finding is one thing Lint reports about a rulebook.
type Finding struct {
	Kind       string   `json:"kind"`       // FindingConflict or FindingGap
	Subject    string   `json:"subject"`    // the case, e.g. "leverage security_future for retail, accredited, qualified_purchaser"
	Rules      []string `json:"rules"`      // the rules involved (leverage rule ids), in rulebook order; empty for a gap
	Resolution string   `json:"resolution"` // what applies, e.g. "strictest wins: 5 (rule esma_single_equity)"
	Message    string   `json:"message"`
}

// Lint reports, in a deterministic order (conflicts, then gaps; each in the
// canonical order of classes, statuses and underlyings, then regimes by name):
//
//   - leverage conflicts: a (status, class, underlying) case covered by rules
//     with different caps. It resolves to the strictest cap, which is the one
//     CheckReceive and CheckAccount apply. The default reports security_future
//     (15% security-futures margin = 6.67 vs ESMA 5:1 single equities = 5 for
//     all but institutional) and fx majors (CFTC 50:1 vs ESMA 30:1).
//   - leverage gaps: a case of a class the classification can produce that no
//     rule covers. It resolves to leverage.default_max.
//   - regime gaps: a regime with no receive rule. It resolves to the strictest
//     reading: no one but the issuer may receive.
//   - the risk sections' (lint_risk.go): position limits covering the same
//     case, classes without a maintenance fraction, and statuses without an
//     investment limit in a regime that needs one.
//
// Cases that share the same rules are reported together. Lint of nil is nil.
func Lint(rb *Rulebook) []Finding {
	if rb == nil {
		return nil
	}
	var conflicts, gaps []Finding
	for _, class := range holdableClasses {
		c, g := rb.lintLeverage(class)
		conflicts = append(conflicts, c...)
		gaps = append(gaps, g...)
	}
	c, g := rb.lintRisk() // lint_risk.go
	conflicts = append(conflicts, c...)
	for _, name := range rb.regimeNames {
		if g, _ := rb.regime(name); g.receive != nil {
			continue
		}
		gaps = append(gaps, Finding{
			Kind:       FindingGap,
			Subject:    "regime " + name,
			Rules:      []string{},
			Resolution: "strictest: no one but the issuer may receive",
			Message: fmt.Sprintf("regime %s has no receive rule, so nothing says who may hold its instruments; add regimes[].receive",
				name),
		})
	}
	gaps = append(gaps, g...)
	return append(conflicts, gaps...)
}

// classKeys lists, in canonical order, the leverage keys of the underlyings
// whose plain or derived class is class: the cases Lint must find covered.
func (rb *Rulebook) classKeys(class string) []string {
	var keys []string
	for _, u := range underlyingNames {
		row := rb.underlyings[u]
		if row.plain.class != class && (row.derived == nil || row.derived.class != class) {
			continue
		}
		keys = append(keys, leverageKeysOf(u)...)
	}
	return keys
}

// cellGroup is the cases of one class that share the same matching rules.
type cellGroup struct {
	rules    []*leverageRule
	statuses []Status
	keys     []string
	cells    []string // "status/key", for subjects that are not a rectangle
}

func (rb *Rulebook) lintLeverage(class string) (conflicts, gaps []Finding) {
	keys := rb.classKeys(class)
	if len(keys) == 0 {
		return nil, nil
	}
	var order []string
	groups := map[string]*cellGroup{} // lookup only; order keeps the output deterministic
	for _, s := range Statuses() {
		for _, k := range keys {
			var matched []*leverageRule
			var ids []string
			for i := range rb.leverage {
				if lr := &rb.leverage[i]; lr.matches(s, class, k) {
					matched = append(matched, lr)
					ids = append(ids, lr.id)
				}
			}
			if len(matched) > 0 && !disagree(matched) {
				continue
			}
			sig := strings.Join(ids, ",")
			g, ok := groups[sig]
			if !ok {
				g = &cellGroup{rules: matched}
				groups[sig] = g
				order = append(order, sig)
			}
			if !slices.Contains(g.statuses, s) {
				g.statuses = append(g.statuses, s)
			}
			if !slices.Contains(g.keys, k) {
				g.keys = append(g.keys, k)
			}
			g.cells = append(g.cells, string(s)+"/"+k)
		}
	}
	for _, sig := range order {
		g := groups[sig]
		subject := "leverage " + class + g.where(keys)
		if len(g.rules) == 0 {
			gaps = append(gaps, Finding{
				Kind:       FindingGap,
				Subject:    subject,
				Rules:      []string{},
				Resolution: "leverage.default_max applies: " + rb.describeDefault(),
				Message: fmt.Sprintf("no leverage rule covers %s; add a rule to leverage.rules, or accept the default (%s)",
					strings.TrimPrefix(subject, "leverage "), rb.defaultSource),
			})
			continue
		}
		best := g.rules[0]
		var ids, parts []string
		for _, lr := range g.rules {
			ids = append(ids, lr.id)
			parts = append(parts, fmt.Sprintf("%s allows %s (%s)", lr.id, lr.max, lr.source))
			if lr.max.stricter(best.max) {
				best = lr
			}
		}
		conflicts = append(conflicts, Finding{
			Kind:       FindingConflict,
			Subject:    subject,
			Rules:      ids,
			Resolution: fmt.Sprintf("strictest wins: %s (rule %s)", best.max, best.id),
			Message: fmt.Sprintf("%s; the effective cap is the strictest, %s",
				strings.Join(parts, "; "), best.max),
		})
	}
	return conflicts, gaps
}

// disagree reports whether the rules give different caps.
func disagree(rules []*leverageRule) bool {
	return slices.ContainsFunc(rules[1:], func(lr *leverageRule) bool { return !lr.max.equal(rules[0].max) })
}

// where describes the group's cases after the class: " on k1, k2 for s1, s2",
// leaving out the underlyings when the group covers all of the class's, or a
// list of status/underlying pairs when the cases do not form a rectangle.
func (g *cellGroup) where(classKeys []string) string {
	if len(g.statuses)*len(g.keys) != len(g.cells) {
		return " for " + strings.Join(g.cells, ", ")
	}
	var ss []string
	for _, s := range g.statuses {
		ss = append(ss, string(s))
	}
	on := ""
	if len(g.keys) != len(classKeys) {
		on = " on " + strings.Join(g.keys, ", ")
	}
	return on + " for " + strings.Join(ss, ", ")
}

func (rb *Rulebook) describeDefault() string {
	cv := rb.defaultCap
	switch {
	case !cv.capped:
		return "no cap"
	case cv.max.IsZero():
		return "0 (may not be held)"
	case cv.max.Equal(decimal.NewFromInt(1)):
		return "1 (held fully paid only)"
	}
	return cv.max.String()
}
