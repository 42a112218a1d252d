package eligibility

import (
	"regexp"
	"slices"
	"time"
)

// Dual control (RULES.md, "Separation of duties"): the rulebook may list
// instruction types that wait for a second operator-side party's approval.
// Opt-in: the default lists none.

// defaultDualControlTTL is how long a pending instruction waits for its
// approval when the rulebook names no dual_control_ttl.
var defaultDualControlTTL = period{days: 7}

var typeNamePattern = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)

func (v *validator) dualControl(rb *Rulebook, f *fileYAML) {
	rb.dualControlTTL = defaultDualControlTTL
	if f.DualControlTTL != "" {
		rb.dualControlTTL = v.period("dual_control_ttl", f.DualControlTTL)
	}
	if !v.listLen("dual_control", len(f.DualControl)) {
		return
	}
	for _, t := range f.DualControl {
		if !typeNamePattern.MatchString(t) {
			v.fail("dual_control", "%q is not an instruction type", t)
			continue
		}
		if slices.Contains(rb.dualControl, t) {
			v.fail("dual_control", "lists %s twice", t)
			continue
		}
		rb.dualControl = append(rb.dualControl, t)
	}
	slices.Sort(rb.dualControl)
}

// DualControl reports whether instructions of type t wait for a second
// operator-side party's approval.
func (rb *Rulebook) DualControl(t string) bool {
	_, found := slices.BinarySearch(rb.dualControl, t)
	return found
}

// DualControlTypes lists the instruction types under dual control, sorted.
func (rb *Rulebook) DualControlTypes() []string { return slices.Clone(rb.dualControl) }

// PendingExpiry is when an instruction pending since t expires.
func (rb *Rulebook) PendingExpiry(t time.Time) time.Time { return rb.dualControlTTL.end(t) }
