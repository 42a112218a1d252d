//go:build race

package ledger

// raceEnabled: the race detector slows the state machine about tenfold, so
// the property tests run fewer seeds under it (the plain run keeps them all).
const raceEnabled = true
