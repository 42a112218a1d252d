package consensus

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestLogEntry_RoundTrip(t *testing.T) {
	stamp := time.Date(2026, 11, 3, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name  string
		items [][]byte
	}{
		{"one", [][]byte{[]byte("a")}},
		{"empty item", [][]byte{{}}},
		{"several", [][]byte{[]byte("x"), {}, bytes.Repeat([]byte("y"), 300)}},
		{"many", bytes.Split(bytes.Repeat([]byte("z,"), 200), []byte(","))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeLogEntry(stamp, tc.items)
			got, err := decodeLogEntry(data)
			if err != nil {
				t.Fatalf("decodeLogEntry(encodeLogEntry(...)) error = %v", err)
			}
			if !got.Time.Equal(stamp) {
				t.Errorf("time = %v, want %v", got.Time, stamp)
			}
			if len(got.Items) != len(tc.items) {
				t.Fatalf("got %d items, want %d", len(got.Items), len(tc.items))
			}
			for i := range tc.items {
				if !bytes.Equal(got.Items[i], tc.items[i]) {
					t.Errorf("item %d = %q, want %q", i, got.Items[i], tc.items[i])
				}
			}
			// The decoded items must not alias the log data raft keeps.
			data[len(data)-1] ^= 0xff
			if last := len(tc.items) - 1; len(tc.items[last]) > 0 && got.Items[last][len(got.Items[last])-1] != tc.items[last][len(tc.items[last])-1] {
				t.Errorf("decoded item aliases the input")
			}
		})
	}
}

func TestLogEntry_DecodeRejects(t *testing.T) {
	valid := encodeLogEntry(time.Unix(1, 0), [][]byte{[]byte("ab")})
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short header", valid[:5]},
		{"unknown version", append([]byte{2}, valid[1:]...)},
		{"no count", valid[:9]},
		{"zero items", append(append([]byte(nil), valid[:9]...), 0)},
		{"truncated item", valid[:len(valid)-1]},
		{"trailing byte", append(append([]byte(nil), valid...), 0)},
		{"count beyond data", append(append([]byte(nil), valid[:9]...), 5, 1, 'a')},
		{"non-minimal count", append(append([]byte(nil), valid[:9]...), 0x81, 0x00, 2, 'a', 'b')},
		{"non-minimal length", append(append([]byte(nil), valid[:9]...), 1, 0x82, 0x00, 'a', 'b')},
		{"length overflow", append(append([]byte(nil), valid[:9]...), 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeLogEntry(tc.data)
			if !errors.Is(err, errBadLogEntry) {
				t.Errorf("decodeLogEntry(%x) = %+v, %v; want errBadLogEntry", tc.data, got, err)
			}
		})
	}
}

func TestLogEntry_SizeBound(t *testing.T) {
	// The batcher budgets logEntryHeaderMax plus itemCost per item; the real
	// encoding must never be larger.
	for _, n := range []int{1, 127, 128, 10_000} {
		items := make([][]byte, n)
		budget := logEntryHeaderMax
		for i := range items {
			items[i] = bytes.Repeat([]byte{'q'}, i%300)
			budget += itemCost(len(items[i]))
		}
		if got := len(encodeLogEntry(time.Now(), items)); got > budget {
			t.Errorf("%d items: encoded %d bytes, budget %d", n, got, budget)
		}
	}
}

func FuzzDecodeLogEntry(f *testing.F) {
	f.Add(encodeLogEntry(time.Unix(0, 0), [][]byte{{}}))
	f.Add(encodeLogEntry(time.Unix(1700000000, 5), [][]byte{[]byte("a"), []byte("bc")}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeLogEntry(data)
		if err != nil {
			if !errors.Is(err, errBadLogEntry) {
				t.Fatalf("decodeLogEntry error %v does not wrap errBadLogEntry", err)
			}
			return
		}
		if len(e.Items) == 0 {
			t.Fatalf("decoded a log entry without items")
		}
		// Exactly one encoding per log entry: re-encoding gives the input back.
		if again := encodeLogEntry(e.Time, e.Items); !bytes.Equal(again, data) {
			t.Fatalf("re-encoded %x, input %x", again, data)
		}
	})
}
