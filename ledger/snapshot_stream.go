package ledger

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"runtime"

	"github.com/pierrec/lz4/v4"
	bolt "go.etcd.io/bbolt"
)

// A snapshot stream carries the state file's pages as of one read
// transaction, less the pages bbolt's freelist holds, with a checksum, the
// whole compressed:
//
//	stream   "TLSNAPv3", then one LZ4 frame (4 MiB blocks, no checksums of
//	         its own) whose content is the page stream
//
// and the page stream is
//
//	header   "TLSNAPv2", page size (u32), pages in the file (u64)
//	runs     first page (u64), count (u32), then count pages, in ascending,
//	         non-overlapping order; the first run starts at page 0
//	end      first page 2^64-1, count 0
//	trailer  SHA-256 of every byte before it
//
// Integers are big-endian. Restore writes each run at its place in a new
// file and leaves the pages between runs as holes: bbolt's freelist, which
// the stream carries, lists them, and bbolt writes a free page before it
// ever reads it. A file the copy-on-write commits have grown holds about a
// quarter free pages (ledger/DESIGN.md, "Memory and disk, per investor"),
// which the stream no longer copies. The checksum catches a stream damaged
// on its way or on disk before any of it is opened; `Check` still decides
// whether what it holds is a sound ledger.
//
// The pages compress to about a quarter (a million investors: 1.79 GiB to
// 484 MiB): the tails of part-full pages are zeros, and keys and records
// repeat their names. A snapshot's cost is mostly writing it out, to disk
// and to the followers it is sent to, so the leader spends CPU on LZ4, the
// fastest of the common compressors, to write a quarter of the bytes.
//
// A release before this one wrote the page stream bare, and one before
// that the bbolt file itself, which starts with page 0's id: eight zero
// bytes, never a magic. Restore reads all three.
const (
	compressedMagic = "TLSNAPv3"
	streamMagic     = "TLSNAPv2"
	streamHeaderLen = len(streamMagic) + 4 + 8
	streamRunLen    = 8 + 4
	streamEnd       = math.MaxUint64
	// streamMaxRun bounds the pages a run carries, so a run's buffer is a
	// megabyte at bbolt's 4 KiB pages.
	streamMaxRun = 256
	// writebackEvery is how many bytes a restore writes before it starts
	// their writeback (startWriteback).
	writebackEvery = 32 << 20
)

// bbolt's file format (version 2), as far as the stream reads it: a page
// starts with its id (u64), flags (u16), count (u16) and overflow (u32); a
// meta page's meta follows, with the freelist's page at 48 and the file's
// page count at 56, in the machine's byte order, as bbolt writes them.
const (
	boltPageHeader     = 16
	boltFreelistFlag   = 0x10
	boltMetaFreelist   = 48
	boltMetaPages      = 56
	boltNoFreelist     = math.MaxUint64
	boltLongCountFlag  = 0xFFFF
	boltFreelistMaxIDs = 1 << 40
)

var errPagesEnough = errors.New("meta pages read")

// pagePrefix keeps the first len(buf) bytes written to it and then refuses
// more.
type pagePrefix struct {
	buf []byte
	n   int
}

func (p *pagePrefix) Write(b []byte) (int, error) {
	k := copy(p.buf[p.n:], b)
	p.n += k
	if k < len(b) {
		return k, errPagesEnough
	}
	return k, nil
}

// metaPages returns the two meta pages of a copy of the file as of tx,
// which bbolt makes from the transaction's meta (the file's own may be
// newer): tx.WriteTo writes them first.
func metaPages(tx *bolt.Tx, pageSize int) ([]byte, error) {
	p := &pagePrefix{buf: make([]byte, 2*pageSize)}
	if _, err := tx.WriteTo(p); err != nil && !errors.Is(err, errPagesEnough) {
		return nil, err
	}
	if p.n != len(p.buf) {
		return nil, fmt.Errorf("the meta pages are %d bytes, want %d", p.n, len(p.buf))
	}
	return p.buf, nil
}

// freePages returns a bit per page of the file, set where the freelist of
// the meta page meta lists the page, or nil if the file keeps no freelist.
// A read transaction of that meta keeps the freelist's page as it was until
// it ends: bbolt reuses no page a reader still sees.
func freePages(f io.ReaderAt, pageSize int, meta []byte) ([]uint64, error) {
	flPage := binary.NativeEndian.Uint64(meta[boltMetaFreelist:])
	pages := binary.NativeEndian.Uint64(meta[boltMetaPages:])
	if flPage == boltNoFreelist {
		return nil, nil
	}
	if flPage < 2 || flPage >= pages {
		return nil, fmt.Errorf("the freelist is at page %d of %d", flPage, pages)
	}
	head := make([]byte, boltPageHeader+8)
	if _, err := f.ReadAt(head, int64(flPage)*int64(pageSize)); err != nil {
		return nil, fmt.Errorf("read the freelist: %w", err)
	}
	if flags := binary.NativeEndian.Uint16(head[8:]); flags&boltFreelistFlag == 0 {
		return nil, fmt.Errorf("page %d is not a freelist (flags %#x)", flPage, flags)
	}
	count, start := uint64(binary.NativeEndian.Uint16(head[10:])), uint64(boltPageHeader)
	if count == boltLongCountFlag {
		count, start = binary.NativeEndian.Uint64(head[boltPageHeader:]), boltPageHeader+8
	}
	overflow := uint64(binary.NativeEndian.Uint32(head[12:]))
	if count > boltFreelistMaxIDs || start+count*8 > (1+overflow)*uint64(pageSize) {
		return nil, fmt.Errorf("the freelist's %d ids do not fit its %d pages", count, 1+overflow)
	}
	ids := make([]byte, count*8)
	if _, err := f.ReadAt(ids, int64(flPage)*int64(pageSize)+int64(start)); err != nil {
		return nil, fmt.Errorf("read the freelist: %w", err)
	}
	free := make([]uint64, (pages+63)/64)
	for i := uint64(0); i < count; i++ {
		id := binary.NativeEndian.Uint64(ids[i*8:])
		if id < 2 || id >= pages || (id >= flPage && id <= flPage+overflow) {
			return nil, fmt.Errorf("the freelist lists page %d, the file has %d and the freelist is at %d", id, pages, flPage)
		}
		free[id/64] |= 1 << (id % 64)
	}
	return free, nil
}

func isFree(free []uint64, id uint64) bool {
	return free != nil && free[id/64]&(1<<(id%64)) != 0
}

// writeStream writes the snapshot stream of the file f as of tx, which must
// be a read transaction of the bbolt database open on f.
func writeStream(w io.Writer, tx *bolt.Tx, f io.ReaderAt) error {
	if _, err := io.WriteString(w, compressedMagic); err != nil {
		return err
	}
	zw := lz4.NewWriter(w)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb), lz4.ChecksumOption(false),
		lz4.ConcurrencyOption(lz4Goroutines())); err != nil {
		return fmt.Errorf("snapshot: compress: %w", err)
	}
	err := writePageStream(zw, tx, f)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return err
}

// snapshotCompressors bounds the goroutines compressing a snapshot beside
// Apply, or decompressing one: LZ4 compresses a few hundred megabytes a
// second on one.
const snapshotCompressors = 4

// lz4Goroutines is how many goroutines a snapshot's LZ4 frame is
// compressed or decompressed on.
func lz4Goroutines() int { return min(runtime.GOMAXPROCS(0), snapshotCompressors) }

// writePageStream writes the page stream of the file f as of tx.
func writePageStream(w io.Writer, tx *bolt.Tx, f io.ReaderAt) error {
	pageSize := tx.DB().Info().PageSize
	metas, err := metaPages(tx, pageSize)
	if err != nil {
		return fmt.Errorf("snapshot meta pages: %w", err)
	}
	pages := binary.NativeEndian.Uint64(metas[boltMetaPages:])
	if int64(pages)*int64(pageSize) != tx.Size() {
		return fmt.Errorf("snapshot: the meta counts %d pages, the transaction %d bytes", pages, tx.Size())
	}
	free, err := freePages(f, pageSize, metas)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}

	sum := newHashBehind(sha256.New())
	defer sum.stop()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 64<<10)
	var head [streamHeaderLen]byte
	copy(head[:], streamMagic)
	binary.BigEndian.PutUint32(head[8:], uint32(pageSize))
	binary.BigEndian.PutUint64(head[12:], pages)
	if _, err := bw.Write(head[:]); err != nil {
		return err
	}
	writeRun := func(first, count uint64, data []byte) error {
		var run [streamRunLen]byte
		binary.BigEndian.PutUint64(run[:], first)
		binary.BigEndian.PutUint32(run[8:], uint32(count))
		if _, err := bw.Write(run[:]); err != nil {
			return err
		}
		_, err := bw.Write(data)
		return err
	}
	if err := writeRun(0, 2, metas); err != nil {
		return err
	}
	buf := make([]byte, streamMaxRun*pageSize)
	for id := uint64(2); id < pages; {
		if isFree(free, id) {
			id++
			continue
		}
		n := uint64(1)
		for n < streamMaxRun && id+n < pages && !isFree(free, id+n) {
			n++
		}
		data := buf[:n*uint64(pageSize)]
		if _, err := f.ReadAt(data, int64(id)*int64(pageSize)); err != nil {
			return fmt.Errorf("snapshot: read pages %d-%d: %w", id, id+n-1, err)
		}
		if err := writeRun(id, n, data); err != nil {
			return err
		}
		id += n
	}
	if err := writeRun(streamEnd, 0, nil); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(sum.Sum())
	return err
}

// writeSnapshotFile writes the snapshot stream r to a new file at path and
// syncs it: a stream in the format above is checked against its checksum
// and its runs written in place; a stream of an earlier release is the
// file itself, copied as it is.
func writeSnapshotFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = readSnapshot(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readSnapshot writes the snapshot stream r into the empty file f, in
// whichever format it is.
func readSnapshot(f *os.File, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(len(streamMagic))
	switch {
	case bytes.Equal(head, []byte(compressedMagic)):
		if _, err := br.Discard(len(compressedMagic)); err != nil {
			return err
		}
		// Blocks decompress on their own goroutines while this one hashes
		// and writes the pages (1,000,000 investors: the stream written in
		// 4.2–4.6 s against 5.0–5.8 s on one, three alternating runs).
		zr := lz4.NewReader(br)
		if err := zr.Apply(lz4.ConcurrencyOption(lz4Goroutines())); err != nil {
			return fmt.Errorf("snapshot stream: decompress: %w", err)
		}
		pages := bufio.NewReaderSize(zr, 1<<20)
		head, err := pages.Peek(len(streamMagic))
		if err != nil {
			return fmt.Errorf("snapshot stream: %w", noEOF(err))
		}
		if !bytes.Equal(head, []byte(streamMagic)) {
			return fmt.Errorf("snapshot stream: the compressed stream holds no page stream (it starts %q)", head)
		}
		return readStream(f, pages)
	case bytes.Equal(head, []byte(streamMagic)):
		return readStream(f, br)
	}
	_, err := io.Copy(f, br)
	return err
}

// readStream writes the runs of the stream r into f, and refuses a stream
// that is malformed, short, longer than its end, or whose checksum differs.
// Each run is read, hashed and written a megabyte at a time. A first
// version hashed through a reader and wrote 32 KiB at a time (io.Copy's),
// and restored 100,000 investors about a tenth slower than the plain copy
// of an earlier stream (three runs each).
func readStream(f *os.File, r *bufio.Reader) error {
	sum := newHashBehind(sha256.New())
	defer sum.stop()
	read := func(b []byte) error {
		if _, err := io.ReadFull(r, b); err != nil {
			return noEOF(err)
		}
		sum.Write(b)
		return nil
	}
	var head [streamHeaderLen]byte
	if err := read(head[:]); err != nil {
		return fmt.Errorf("snapshot stream header: %w", err)
	}
	pageSize := uint64(binary.BigEndian.Uint32(head[8:]))
	pages := binary.BigEndian.Uint64(head[12:])
	if pageSize < 512 || pageSize > 1<<16 || bits.OnesCount64(pageSize) != 1 {
		return fmt.Errorf("snapshot stream: page size %d", pageSize)
	}
	if pages < 4 || pages > math.MaxInt64/pageSize {
		return fmt.Errorf("snapshot stream: %d pages", pages)
	}
	buf := make([]byte, 1<<20)
	next := uint64(0) // the lowest page the next run may start at
	// Runs come in ascending order, so the bytes below the latest write
	// are written for good: their writeback starts every writebackEvery.
	var written int64
	for {
		var run [streamRunLen]byte
		if err := read(run[:]); err != nil {
			return fmt.Errorf("snapshot stream after page %d: %w", next, err)
		}
		first, count := binary.BigEndian.Uint64(run[:]), uint64(binary.BigEndian.Uint32(run[8:]))
		if first == streamEnd && count == 0 {
			break
		}
		switch {
		case next == 0 && (first != 0 || count < 2):
			return fmt.Errorf("snapshot stream: the first run is pages %d+%d, want the meta pages", first, count)
		case count == 0 || first < next || first > pages || count > pages-first:
			return fmt.Errorf("snapshot stream: a run of pages %d+%d after page %d of %d", first, count, next, pages)
		}
		for off, end := first*pageSize, (first+count)*pageSize; off < end; {
			chunk := buf[:min(uint64(len(buf)), end-off)]
			if err := read(chunk); err != nil {
				return fmt.Errorf("snapshot stream: pages %d+%d: %w", first, count, err)
			}
			if _, err := f.WriteAt(chunk, int64(off)); err != nil {
				return err
			}
			off += uint64(len(chunk))
			if int64(off)-written >= writebackEvery {
				startWriteback(f, written, int64(off)-written)
				written = int64(off)
			}
		}
		next = first + count
	}
	got := sum.Sum()
	var want [sha256.Size]byte
	if _, err := io.ReadFull(r, want[:]); err != nil {
		return fmt.Errorf("snapshot stream checksum: %w", noEOF(err))
	}
	if !bytes.Equal(got, want[:]) {
		return fmt.Errorf("snapshot stream fails its checksum: SHA-256 %x, the stream says %x", got, want)
	}
	// Past the end: nothing, and nothing that fails to read (such as bytes
	// after a compressed stream's frame that are not another frame). The
	// LZ4 reader's WriteTo, which io.Copy uses, ends with io.EOF itself.
	extra, err := io.Copy(io.Discard, r)
	switch {
	case extra > 0:
		return fmt.Errorf("snapshot stream: %d bytes past its end", extra)
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("snapshot stream: past its end: %w", err)
	}
	// The pages no run carried past the last one are free: the file's
	// length is the meta's page count all the same.
	return f.Truncate(int64(pages * pageSize))
}

// noEOF reports a stream that ends early as such, not as a clean end.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
