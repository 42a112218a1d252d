package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/tokenledger/tokenledger/internal/wire"
	"time"
)

// Log entry encoding, version 1, the payload of every raft log entry of type
// LogCommand that this package writes:
//
//	version  byte     = 1
//	time     8 bytes  leader's time stamp, unix nanoseconds, big-endian int64
//	count    uvarint  number of items, at least 1
//	items    count × (uvarint length, length bytes)
//
// Varints must be minimal, and nothing may follow the last item, so every log
// entry has exactly one encoding and decode(encode(e)) == e byte for byte.
const (
	logEntryVersion1 byte = 1

	// logEntryHeaderMax is the most bytes before the first item: version, time
	// and the longest item count.
	logEntryHeaderMax = 1 + 8 + binary.MaxVarintLen64

	// MaxItemOverhead is the most bytes a log entry adds to a single item:
	// the header plus the item's length prefix. An item larger than
	// Config.MaxEntryBytes - MaxItemOverhead is refused with ErrTooLarge.
	MaxItemOverhead = logEntryHeaderMax + binary.MaxVarintLen64
)

// errBadLogEntry is wrapped by every decoding error.
var errBadLogEntry = errors.New("consensus: malformed log entry")

// logEntry is a decoded log entry: the envelope of the opaque items one raft
// log entry carries, not the ledger's journal record of an instruction.
type logEntry struct {
	Time  time.Time
	Items [][]byte
}

// itemCost is the bytes one item of n bytes adds to a log entry.
func itemCost(n int) int {
	return wire.UvarintLen(uint64(n)) + n
}

// encodeLogEntry returns the version-1 log entry of the items stamped with t.
func encodeLogEntry(t time.Time, items [][]byte) []byte {
	assert(len(items) > 0, "encoding a log entry without items")
	size := 1 + 8 + wire.UvarintLen(uint64(len(items)))
	for _, it := range items {
		size += itemCost(len(it))
	}
	b := make([]byte, 0, size)
	b = append(b, logEntryVersion1)
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
	b = appendItems(b, items)
	assert(len(b) == size, "log entry size %d, computed %d", len(b), size)
	return b
}

// decodeLogEntry decodes a version-1 log entry. The items are copied, so they
// do not alias data, which raft keeps in its log cache.
func decodeLogEntry(data []byte) (logEntry, error) {
	if len(data) < 1+8 {
		return logEntry{}, fmt.Errorf("%w: %d bytes is shorter than the header", errBadLogEntry, len(data))
	}
	if data[0] != logEntryVersion1 {
		return logEntry{}, fmt.Errorf("%w: unknown version %d", errBadLogEntry, data[0])
	}
	nanos := int64(binary.BigEndian.Uint64(data[1:9]))
	items, err := decodeItems(data[9:], 1)
	if err != nil {
		return logEntry{}, err
	}
	return logEntry{Time: time.Unix(0, nanos).UTC(), Items: items}, nil
}

// appendItems appends the item count and the length-prefixed items.
func appendItems(b []byte, items [][]byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(items)))
	for _, it := range items {
		b = binary.AppendUvarint(b, uint64(len(it)))
		b = append(b, it...)
	}
	return b
}

// decodeItems decodes what appendItems wrote, requiring at least minCount
// items and nothing after them. The items share one new backing array.
func decodeItems(b []byte, minCount uint64) ([][]byte, error) {
	count, n, err := readUvarint(b)
	if err != nil {
		return nil, fmt.Errorf("%w: item count: %v", errBadLogEntry, err)
	}
	b = b[n:]
	if count < minCount {
		return nil, fmt.Errorf("%w: %d items, want at least %d", errBadLogEntry, count, minCount)
	}
	// Every item needs at least its one-byte length prefix, which bounds the
	// allocation below by the input size.
	if count > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d items in %d bytes", errBadLogEntry, count, len(b))
	}
	backing := make([]byte, 0, len(b))
	items := make([][]byte, count)
	for i := range items {
		size, n, err := readUvarint(b)
		if err != nil {
			return nil, fmt.Errorf("%w: item %d length: %v", errBadLogEntry, i, err)
		}
		b = b[n:]
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: item %d of %d bytes, %d left", errBadLogEntry, i, size, len(b))
		}
		start := len(backing)
		backing = append(backing, b[:size]...)
		items[i] = backing[start:len(backing):len(backing)]
		b = b[size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadLogEntry, len(b))
	}
	return items, nil
}

// readUvarint reads a minimal uvarint.
func readUvarint(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, 0, errors.New("truncated varint")
	case n < 0:
		return 0, 0, errors.New("varint overflows 64 bits")
	case n != wire.UvarintLen(v):
		return 0, 0, errors.New("varint is not minimal")
	}
	return v, n, nil
}
