package eligibility

import (
	"fmt"
	"slices"
	"strings"
)

// investmentRegimes are the regimes whose exemptions cap what a
// non-accredited investor may invest (Reg CF, 17 CFR 227.100(a)(2); Reg A
// Tier 2, Rule 251(d)(2)(i)(C)): a rulebook that lets such investors
// receive their instruments needs an investment limit for them.
var investmentRegimes = []string{"reg_a_tier2", "reg_cf"}

// lintRisk reports the risk sections' conflicts and gaps, in this order:
//
//   - position-limit conflicts: a (class, status) case that two or more
//     limits cover; each is checked, so the strictest of a kind binds;
//   - maintenance gaps: a class that can carry a margin requirement with no
//     maintenance fraction; it keeps its whole initial requirement;
//   - investment-limit gaps: a status below accredited that a regime of
//     investmentRegimes admits, with no investment limit; nothing caps it.
func (rb *Rulebook) lintRisk() (conflicts, gaps []Finding) {
	conflicts = rb.lintPositionLimits()
	for _, class := range holdableClasses {
		if class == ClassCash {
			continue // cash carries no requirement
		}
		if _, ok := rb.MaintenanceFraction(class); ok {
			continue
		}
		gaps = append(gaps, Finding{
			Kind: FindingGap, Subject: "maintenance " + class, Rules: []string{},
			Resolution: "the whole initial requirement is the maintenance requirement (fraction 1)",
			Message:    fmt.Sprintf("no maintenance rule names class %s, so an account holding it is in a margin call as soon as its equity falls below the initial requirement; add it to maintenance.rules", class),
		})
	}
	for _, name := range investmentRegimes {
		g, known := rb.regime(name)
		if !known || g.receive == nil {
			continue
		}
		for _, s := range Statuses() {
			if s.Rank() >= StatusAccredited.Rank() || s.Rank() < g.receive.minStatus.Rank() {
				continue
			}
			if slices.ContainsFunc(rb.risk.investmentLimits, func(l investmentLimit) bool {
				return l.regime == name && slices.Contains(l.statuses, s)
			}) {
				continue
			}
			gaps = append(gaps, Finding{
				Kind: FindingGap, Subject: "investment limit " + name + " for " + string(s), Rules: []string{},
				Resolution: "no limit: " + string(s) + " investors may invest any amount",
				Message:    fmt.Sprintf("regime %s admits %s investors but no investment_limits entry covers them; its exemption caps what a non-accredited investor may invest", name, s),
			})
		}
	}
	return conflicts, gaps
}

// lintPositionLimits groups the (class, status) cases covered by two or
// more position limits by the limits that cover them.
func (rb *Rulebook) lintPositionLimits() []Finding {
	type group struct {
		limits   []*positionLimit
		cells    []string
		statuses []Status
		classes  []string
	}
	var order []string
	groups := map[string]*group{} // lookup only; order keeps the output deterministic
	for _, class := range holdableClasses {
		for _, s := range Statuses() {
			var matched []*positionLimit
			var ids []string
			for i := range rb.risk.positionLimits {
				pl := &rb.risk.positionLimits[i]
				if slices.Contains(pl.classes, class) && slices.Contains(pl.statuses, s) {
					matched = append(matched, pl)
					ids = append(ids, pl.id)
				}
			}
			if len(matched) < 2 {
				continue
			}
			sig := strings.Join(ids, ",")
			g, ok := groups[sig]
			if !ok {
				g = &group{limits: matched}
				groups[sig] = g
				order = append(order, sig)
			}
			g.cells = append(g.cells, class+"/"+string(s))
			if !slices.Contains(g.statuses, s) {
				g.statuses = append(g.statuses, s)
			}
			if !slices.Contains(g.classes, class) {
				g.classes = append(g.classes, class)
			}
		}
	}
	var out []Finding
	for _, sig := range order {
		g := groups[sig]
		subject := "position limit for " + strings.Join(g.cells, ", ")
		if len(g.classes)*len(g.statuses) == len(g.cells) {
			var ss []string
			for _, s := range g.statuses {
				ss = append(ss, string(s))
			}
			subject = "position limit " + strings.Join(g.classes, ", ") + " for " + strings.Join(ss, ", ")
		}
		var ids, parts, binds []string
		strictest := map[string]*positionLimit{}
		var kinds []string
		for _, pl := range g.limits {
			ids = append(ids, pl.id)
			parts = append(parts, fmt.Sprintf("%s caps %s at %s (%s)", pl.id, pl.kind, pl.max, pl.source))
			best, ok := strictest[pl.kind]
			if !ok {
				kinds = append(kinds, pl.kind)
			}
			if !ok || pl.max.LessThan(best.max) {
				strictest[pl.kind] = pl
			}
		}
		for _, k := range kinds {
			binds = append(binds, fmt.Sprintf("%s %s (limit %s)", k, strictest[k].max, strictest[k].id))
		}
		out = append(out, Finding{
			Kind: FindingConflict, Subject: subject, Rules: ids,
			Resolution: "every limit applies; the strictest binds: " + strings.Join(binds, ", "),
			Message:    strings.Join(parts, "; ") + "; a change must pass each",
		})
	}
	return out
}
