//go:build linux

package ledger

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestReleaseMappedPages reads a 32 MB file through bbolt's map, lets its
// pages go, and checks that they left the process's resident set and that
// every value still reads the same, while a release runs beside the reads.
func TestReleaseMappedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewSource(1))
	values := make([][]byte, 8192)
	for i := range values {
		values[i] = make([]byte, 4000)
		r.Read(values[i])
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i, v := range values {
			if err := b.Put(seqKey(uint64(i)), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	readAll := func() {
		t.Helper()
		if err := db.View(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("b")).ForEach(func(k, v []byte) error {
				if i := int(bytesToUint(k)); !bytes.Equal(v, values[i]) {
					t.Fatalf("value %d changed", i)
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
	}
	readAll()
	before := rssFile(t)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	releaseMapped(db.Info().Data, uintptr(info.Size()))
	after := rssFile(t)
	if before-after < 16<<20 {
		t.Errorf("RssFile %d → %d bytes: the release let go of less than 16 MB of a 32 MB file read whole", before, after)
	}
	// Within its budget a watch lets go of nothing; over it (0), of
	// everything, while the reads go on and see the same values.
	readAll()
	held := rssFile(t)
	stop := releaseMappedPages(db, info.Size(), time.Millisecond, 1<<40)
	time.Sleep(20 * time.Millisecond) // some ticks: what is measured is that nothing happens
	if n := stop(); n != 0 {
		t.Errorf("released %d times under a budget it never reached", n)
	}
	if now := rssFile(t); now < held-8<<20 {
		t.Errorf("RssFile %d → %d bytes under a budget it never reached", held, now)
	}
	stop = releaseMappedPages(db, info.Size(), time.Millisecond, 0)
	for range 5 {
		readAll()
	}
	if n := stop(); n == 0 {
		t.Error("never released over a budget of 0")
	}
}

func bytesToUint(k []byte) uint64 {
	var x uint64
	for _, c := range k {
		x = x<<8 | uint64(c)
	}
	return x
}

// rssFile is the process's resident file-backed memory, in bytes.
func rssFile(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}
