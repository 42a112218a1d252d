package ledger

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestHashBehindMatchesSHA256 writes random runs of bytes, of every size
// from nothing to a few buffers' worth, reusing the caller's buffer at
// once as a stream's reader and writer do, and compares the sum with
// SHA-256 of what was written.
func TestHashBehindMatchesSHA256(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		hb := newHashBehind(sha256.New())
		var all bytes.Buffer
		buf := make([]byte, 3*hashBehindChunk+7)
		for range r.IntN(20) {
			n := r.IntN(len(buf) + 1)
			if r.IntN(2) == 0 {
				n = r.IntN(100)
			}
			for i := range buf[:n] {
				buf[i] = byte(r.Uint32())
			}
			hb.Write(buf[:n])
			all.Write(buf[:n])
		}
		want := sha256.Sum256(all.Bytes())
		if got := hb.Sum(); !bytes.Equal(got, want[:]) {
			t.Fatalf("seed %d: %x, want %x", seed, got, want)
		}
		if got := hb.Sum(); !bytes.Equal(got, want[:]) {
			t.Fatalf("seed %d: a second Sum gave %x", seed, got)
		}
		hb.stop() // after Sum: nothing more to end
	}
	// Stopped without a sum, as an error path does: the goroutine ends.
	hb := newHashBehind(sha256.New())
	hb.Write(make([]byte, hashBehindChunk+1))
	hb.stop()
	<-hb.done
}
