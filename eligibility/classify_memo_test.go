package eligibility

import (
	"fmt"
	"math/rand/v2"
	"reflect"
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

// TestCapForMemoConcurrent asks capFor, from four goroutines, every cap the
// default rulebook's leverage rules can give (each status, class and
// underlying they name, and some they do not), and checks each answer
// against a walk of the rules. Questions that share a slot of the table
// and are answered apart must exist, or the test shows nothing.
func TestCapForMemoConcurrent(t *testing.T) {
	rb := fresh(t)
	type question struct {
		s          Status
		class, u   string
		fx         bool
		wantCap    string
		wantRuleID string
	}
	classes := []string{"cash", "no_such_class"}
	for _, lr := range rb.leverage {
		classes = append(classes, lr.classes...)
	}
	var qs []question
	for _, s := range []Status{StatusRetail, StatusAccredited, StatusInstitutional, StatusQualifiedPurchaser, "no_such_status"} {
		for _, class := range classes {
			for _, u := range append([]string{"", "no_such_underlying"}, underlyingNames...) {
				for _, fx := range []bool{false, true} {
					q := question{s: s, class: class, u: u, fx: fx}
					ns := s
					if !ns.Valid() {
						ns = StatusRetail
					}
					cv, best := rb.walkCaps(ns, class, leverageKey(u, fx))
					q.wantCap = cv.String()
					if best != nil {
						q.wantRuleID = best.id
					}
					qs = append(qs, q)
				}
			}
		}
	}
	slotOf := func(q question) int {
		s := q.s
		if !s.Valid() {
			s = StatusRetail
		}
		return (len(s) + 3*len(q.class) + 5*len(leverageKey(q.u, q.fx))) % recentCaps
	}
	apart := 0
	for i := range qs {
		for j := range i {
			if slotOf(qs[i]) == slotOf(qs[j]) && (qs[i].wantCap != qs[j].wantCap || qs[i].wantRuleID != qs[j].wantRuleID) {
				apart++
			}
		}
	}
	if apart == 0 {
		t.Fatal("no two questions share a slot and are answered apart")
	}
	// A slot holding an answer to another status, class or underlying is
	// not taken for this question's.
	q := qs[0]
	planted := capValue{capped: true, max: decimal.NewFromInt(12345)}
	for _, other := range []capAnswer{
		{s: StatusInstitutional, class: q.class, key: leverageKey(q.u, q.fx)},
		{s: q.s, class: "other_class", key: leverageKey(q.u, q.fx)},
		{s: q.s, class: q.class, key: "other_key"},
	} {
		other.cv = planted
		rb.recentCaps[slotOf(q)].Store(&other)
		if cv, _ := rb.capFor(q.s, q.class, q.u, q.fx); cv.String() != q.wantCap {
			t.Fatalf("capFor(%s, %s, %s) took the answer to %+v: %s, want %s", q.s, q.class, q.u, other, cv, q.wantCap)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 5000 {
				q := qs[(n*7+g*13)%len(qs)]
				cv, best := rb.capFor(q.s, q.class, q.u, q.fx)
				id := ""
				if best != nil {
					id = best.id
				}
				if cv.String() != q.wantCap || id != q.wantRuleID {
					errs <- fmt.Sprintf("goroutine %d: capFor(%s, %s, %s, %v) = %s by %q, want %s by %q", g, q.s, q.class, q.u, q.fx, cv, id, q.wantCap, q.wantRuleID)
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
