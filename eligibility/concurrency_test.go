package eligibility_test

import (
	"reflect"
	"sync"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Ensure that one Rulebook serves concurrent readers with identical answers
// (run under -race in CI).
func TestConcurrentReads(t *testing.T) {
	rb := eligibility.Default()
	p := product("BTC3", "cftc", attrs("digital_commodity", "linear", "3", 0, "none"))
	want := rb.CheckReceive(receive(retail, p))
	wantLint := eligibility.Lint(rb)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			for range 50 {
				if got := eligibility.Default().CheckReceive(receive(retail, p)); !reflect.DeepEqual(got, want) {
					errs <- "CheckReceive differs"
					return
				}
				if got := eligibility.Lint(rb); !reflect.DeepEqual(got, wantLint) {
					errs <- "Lint differs"
					return
				}
				rb.Measure(account(retail, "1500", usd("0"), sec("2500")))
				rb.Regimes()
				rb.YAML()
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
