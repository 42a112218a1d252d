package ledger

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// The running corporate actions are kept in memory on the Store, so the
// question every instruction asks ("does any action run?") costs a load,
// not a bbolt seek. The set is immutable once published: Apply starts from
// the published one, copies it on the rare apply that starts or completes
// an action, and publishes the copy after its transaction succeeded (a
// failed apply stops the store, so nothing unpublished can diverge). Open
// and Restore load it from the queue keys of bucketCorpActions, which stay
// the truth; StrictChecks compares the two after every apply.

// corpRun is one queued action: the queue key's parts.
type corpRun struct {
	symbol string
	seq    uint64
	split  bool
}

// corpRunning is the queue of every instrument, in the queue keys' order
// (symbol, then seq).
type corpRunning []corpRun

func (r corpRunning) any() bool { return len(r) > 0 }

// heads lists the seq of each instrument's first action, oldest first
// within an instrument, instruments in symbol order.
func (r corpRunning) heads() []uint64 {
	var out []uint64
	last := ""
	for i, c := range r {
		if i == 0 || c.symbol != last {
			out = append(out, c.seq)
			last = c.symbol
		}
	}
	return out
}

func cmpCorpRun(a, b corpRun) int {
	if c := strings.Compare(a.symbol, b.symbol); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// with returns a copy of r with c added.
func (r corpRunning) with(c corpRun) corpRunning {
	out := slices.Clone(r)
	i, _ := slices.BinarySearchFunc(out, c, cmpCorpRun)
	return slices.Insert(out, i, c)
}

// without returns a copy of r without the action of seq on symbol.
func (r corpRunning) without(symbol string, seq uint64) corpRunning {
	out := slices.Clone(r)
	if i, ok := slices.BinarySearchFunc(out, corpRun{symbol: symbol, seq: seq}, cmpCorpRun); ok {
		out = slices.Delete(out, i, i+1)
	}
	return out
}

// loadCorpRunning reads the queue keys of tx.
func loadCorpRunning(tx *kv.Tx) corpRunning {
	var out corpRunning
	c := tx.Bucket(bucketCorpActions).Cursor()
	for k, v := c.Seek([]byte{caRunning}); k != nil && k[0] == caRunning; k, v = c.Next() {
		out = append(out, corpRun{
			symbol: string(k[1 : len(k)-9]),
			seq:    binary.BigEndian.Uint64(k[len(k)-8:]),
			split:  firstByte(v) == 's',
		})
	}
	return out
}

// checkCorpRunning reports a difference between the in-memory set and the
// queue keys.
func checkCorpRunning(tx *kv.Tx, mem corpRunning) error {
	stored := loadCorpRunning(tx)
	if !slices.Equal(stored, mem) {
		return fmt.Errorf("running corporate actions in memory %v, stored %v", mem, stored)
	}
	return nil
}

// splitOf says whether a split of symbol runs or waits, and its seq.
func (r corpRunning) splitOf(symbol string) (uint64, bool) {
	for _, c := range r {
		if c.symbol == symbol && c.split {
			return c.seq, true
		}
	}
	return 0, false
}

// sameRunning says whether a and b are the same queue: with and without
// copy, so a queue a call changed never shares b's array and length.
func sameRunning(a, b corpRunning) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
