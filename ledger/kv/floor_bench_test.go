package kv

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkBoltFloor is what bbolt alone costs for the writes a transfer
// cannot avoid in a register kept a key a holding: two holdings rewritten,
// at random among 250,000 (100,000 investors' 2.5 each, BenchmarkApply's
// register), committed every 20,000 instructions in key order with fsync,
// as the ledger's layers are. Nothing else of an instruction is done: no
// journal, no index, no decoding. "packed-64" keeps 64 holdings to a value
// (a key a group of parties) and rewrites the group's value instead: the
// layout a register would need for fewer keys a commit.
//
//	go test ./ledger/kv -run '^$' -bench BenchmarkBoltFloor -benchtime 40x -cpu 1 -benchmem
func BenchmarkBoltFloor(b *testing.B) {
	const (
		holdings    = 250_000
		perBatch    = 1_000
		commitEvery = 20
		keyLen      = 17
		valLen      = 28
	)
	for _, group := range []int{1, 64} {
		name := "key-a-holding"
		if group > 1 {
			name = fmt.Sprintf("packed-%d", group)
		}
		b.Run(name, func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			key := func(h int) []byte {
				k := make([]byte, keyLen)
				binary.BigEndian.PutUint64(k, uint64(h/group))
				return k
			}
			val := make([]byte, valLen*group)
			if err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucket([]byte("holdings"))
				if err != nil {
					return err
				}
				for h := 0; h < holdings; h += group {
					if err := bk.Put(key(h), val); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewSource(1))
			touched := make([]int, 0, 2*perBatch*commitEvery)
			commit := func() {
				// The layer's keys, each once, in key order.
				slices.Sort(touched)
				touched = slices.Compact(touched)
				if err := db.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket([]byte("holdings"))
					for _, g := range touched {
						if err := bk.Put(key(g*group), val); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				touched = touched[:0]
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := range b.N {
				for range perBatch {
					touched = append(touched, r.Intn(holdings)/group, r.Intn(holdings)/group)
				}
				if (n+1)%commitEvery == 0 {
					commit()
				}
			}
			commit()
			b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "instr/s")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perBatch), "µs/instr")
		})
	}
}
