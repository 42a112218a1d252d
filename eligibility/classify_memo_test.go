package eligibility

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
)

// TestClassifyMemo holds the memoized Classify to a fresh classification for
// random attributes, including leverages written differently with the same
// value ("2", "2.0"), each form keyed on its own, and leverages whose
// coefficients pass 18 digits, keyed by their strings.
func TestClassifyMemo(t *testing.T) {
	rb := fresh(t)
	pick := func(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 1))
		a := Attributes{
			Underlying: pick(r, "", "cash", "enterprise_equity", "event", "fx", "crypto", "commodity", "bogus"),
			Payoff:     pick(r, "", "linear", "binary", "option"),
			EmbeddedLeverage: decimal.RequireFromString(pick(r, "0", "1", "1.0", "2", "2.00", "0.5", "3.5", "100", "101", "-1",
				"0.1234567890123456789012", "1234567890123456789012", "1.000000000000000001")),
			ExpiryDays:             r.IntN(402) - 1,
			EconomicPurpose:        pick(r, "", "payment", "hedging", "capital_formation", "entertainment"),
			EventTopic:             pick(r, "", "election", "sports", "weather"),
			CounterpartyIsPlatform: r.IntN(2) == 0,
			OutcomeControllable:    r.IntN(2) == 0,
			FXMajor:                r.IntN(2) == 0,
		}
		want := rb.classify(a)
		for range 2 {
			if got := rb.Classify(a); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: Classify(%+v) = %+v, fresh %+v", seed, a, got, want)
			}
		}
	}
	if rb.classifiedN.Load() == 0 {
		t.Fatal("nothing was memoized")
	}
}

// fresh parses the default rulebook anew, so a test's memo is its own.
func fresh(t *testing.T) *Rulebook {
	t.Helper()
	rb, err := Parse(DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// TestClassifyMemoBounded checks that distinct attributes beyond the bound
// are classified but not remembered.
func TestClassifyMemoBounded(t *testing.T) {
	rb := fresh(t)
	for i := range maxClassified + 100 {
		a := Attributes{Underlying: "cash", EmbeddedLeverage: decimal.RequireFromString(fmt.Sprintf("1.%06d", i))}
		if got, want := rb.Classify(a), rb.classify(a); !reflect.DeepEqual(got, want) {
			t.Fatalf("Classify(%+v) = %+v, fresh %+v", a, got, want)
		}
	}
	if n := rb.classifiedN.Load(); n != maxClassified {
		t.Fatalf("memo holds %d entries, want the bound %d", n, maxClassified)
	}
}

// TestClassifyMemoKeysLeverage classifies attributes that differ only in
// their leverage, in turn and again, so a memo key that lost the leverage
// (of any form, an 18-digit coefficient or longer) would hand one
// leverage's answer to another.
func TestClassifyMemoKeysLeverage(t *testing.T) {
	rb := fresh(t)
	levs := []string{"0", "1", "2", "2.0", "0.2", "0.5", "150", "-1",
		"123456789012345678", "1234567890123456789012", "0.1234567890123456789012", "1.000000000000000001"}
	for round := range 2 {
		for _, lev := range levs {
			a := Attributes{Underlying: "crypto", Payoff: "linear", EmbeddedLeverage: decimal.RequireFromString(lev), ExpiryDays: 30, EconomicPurpose: "hedging"}
			if got, want := rb.Classify(a), rb.classify(a); !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: Classify(leverage %s) = %+v, fresh %+v", round, lev, got, want)
			}
		}
	}
}

// TestClassifyMemoConcurrent classifies a few attribute sets, more than
// the table of recent answers has slots, some differing only in their
// leverage, from several goroutines at once: each answer is still the
// set's own (the API classifies beside Apply).
func TestClassifyMemoConcurrent(t *testing.T) {
	rb := fresh(t)
	var sets []Attributes
	var want []Classification
	// Sets that differ only in their leverage, some sharing a slot of the
	// table and classified apart: its key must tell them apart.
	for _, u := range []string{"cash", "enterprise_equity", "fx", "crypto"} {
		for l := range 40 {
			a := Attributes{Underlying: u, Payoff: "linear", EmbeddedLeverage: decimal.NewFromInt(int64(1 + l*5)), EconomicPurpose: "hedging"}
			sets = append(sets, a)
			want = append(want, rb.classify(a))
		}
	}
	slotOf := func(a Attributes) int {
		k := classifyKey{a: a, coef: a.EmbeddedLeverage.CoefficientInt64(), exp: a.EmbeddedLeverage.Exponent()}
		k.a.EmbeddedLeverage = decimal.Decimal{}
		return k.slot()
	}
	apart := 0
	for i := range sets {
		for j := range i {
			if slotOf(sets[i]) == slotOf(sets[j]) && !reflect.DeepEqual(want[i], want[j]) {
				apart++
			}
		}
	}
	if apart == 0 {
		t.Fatal("no two sets share a slot and are classified apart")
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 2000 {
				i := (n*7 + g) % len(sets)
				if got := rb.Classify(sets[i]); !reflect.DeepEqual(got, want[i]) {
					errs <- fmt.Sprintf("goroutine %d: Classify(%+v) = %+v, want %+v", g, sets[i], got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestCapTableAsWalk asks capFor every cap a rulebook's leverage rules
// can give (each status, valid or not, each class and underlying the rules
// name and some they do not) and checks each against a walk of the rules,
// for the default rulebook and one whose rules overlap and leave
// underlyings out.
func TestCapTableAsWalk(t *testing.T) {
	// A rule of no underlying, over classes other rules cap too.
	text := strings.Replace(string(DefaultYAML()), "  rules:\n", `  rules:
    - id: test_overlap
      classes: [derivative, security, security_future]
      statuses: [retail, institutional]
      max: "1.5"
      source: "test"
`, 1)
	overlapping, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(overlapping.leverage) != len(fresh(t).leverage)+1 {
		t.Fatal("the overlapping rule was not added")
	}
	for name, rb := range map[string]*Rulebook{"default": fresh(t), "overlapping": overlapping} {
		if rb.caps == nil {
			t.Fatalf("%s: no cap table", name)
		}
		classes := []string{"cash", "no_such_class", ""}
		keys := append([]string{"", "no_such_underlying", "fx_major", "fx_other"}, underlyingNames...)
		for _, lr := range rb.leverage {
			classes = append(classes, lr.classes...)
			keys = append(keys, lr.underlyings...)
		}
		asked := 0
		for _, s := range []Status{StatusRetail, StatusAccredited, StatusInstitutional, StatusQualifiedPurchaser, "no_such_status", ""} {
			ns := s
			if !ns.Valid() {
				ns = StatusRetail
			}
			for _, class := range classes {
				for _, u := range keys {
					for _, fx := range []bool{false, true} {
						wantCV, wantBest := rb.walkCaps(ns, class, leverageKey(u, fx))
						cv, best := rb.capFor(s, class, u, fx)
						if cv.String() != wantCV.String() || best != wantBest {
							t.Fatalf("%s: capFor(%q, %q, %q, %v) = %s by %p, the rules give %s by %p", name, s, class, u, fx, cv, best, wantCV, wantBest)
						}
						asked++
					}
				}
			}
		}
		if capped := countCapped(rb); capped == 0 || asked < 100 {
			t.Fatalf("%s: %d questions, %d capped answers in the table: the test shows nothing", name, asked, capped)
		}
	}
}

// countCapped is how many of the table's answers are caps.
func countCapped(rb *Rulebook) int {
	n := 0
	for _, a := range rb.caps.answers {
		if a.cv.capped {
			n++
		}
	}
	return n
}

// TestRegimeLookup holds the regime lookup of every instruction (regime,
// strtab) to the rulebook's regimes: each of the default rulebook's names
// finds its own, and names near them none.
func TestRegimeLookup(t *testing.T) {
	rb := fresh(t)
	if !rb.regimes.Separated() {
		t.Error("the default rulebook's regimes fall back to a map")
	}
	if rb.regimes.Len() != len(rb.regimeNames) || len(rb.regimeNames) == 0 {
		t.Fatalf("%d regimes in the table, %d names", rb.regimes.Len(), len(rb.regimeNames))
	}
	for _, name := range rb.regimeNames {
		if g, ok := rb.regime(name); !ok || g.name != name {
			t.Errorf("regime(%q) = %+v, %v", name, g, ok)
		}
		for _, near := range []string{name + "x", name[:len(name)-1], strings.ToUpper(name), " " + name} {
			if g, ok := rb.regime(near); ok {
				t.Errorf("regime(%q) = %s, want none", near, g.name)
			}
		}
	}
	if _, ok := rb.regime(""); ok {
		t.Error(`regime("") found one`)
	}
}
