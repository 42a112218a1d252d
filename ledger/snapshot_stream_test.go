package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
	bolt "go.etcd.io/bbolt"
)

// churnedSource is a store whose file holds free pages: each mint commits
// (StrictChecks), and every commit rewrites the pages it touches elsewhere.
func churnedSource(t *testing.T) *harness {
	t.Helper()
	src := restoreSource(t)
	for i := range 40 {
		src.mustAccept("iss-1", mintBody("REG", "inst-us", fmt.Sprint(i+1)))
	}
	return src
}

// streamRuns parses a snapshot stream's header and runs, and returns the
// pages it says the file has and the pages its runs carry.
func streamRuns(t *testing.T, stream []byte) (pages, carried uint64) {
	t.Helper()
	if !bytes.HasPrefix(stream, []byte(streamMagic)) {
		t.Fatalf("stream starts %q, want %q", stream[:min(8, len(stream))], streamMagic)
	}
	pageSize := uint64(binary.BigEndian.Uint32(stream[8:]))
	pages = binary.BigEndian.Uint64(stream[12:])
	at := uint64(streamHeaderLen)
	for {
		first, count := binary.BigEndian.Uint64(stream[at:]), uint64(binary.BigEndian.Uint32(stream[at+8:]))
		at += streamRunLen
		if first == streamEnd {
			break
		}
		carried += count
		at += count * pageSize
	}
	if rest := uint64(len(stream)) - at; rest != sha256.Size {
		t.Fatalf("%d bytes follow the end of the runs, want the %d of the checksum", rest, sha256.Size)
	}
	return pages, carried
}

// pageStreamOf returns the page stream a snapshot stream compresses.
func pageStreamOf(t testing.TB, stream []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(stream, []byte(compressedMagic)) {
		t.Fatalf("stream starts %q, want %q", stream[:min(8, len(stream))], compressedMagic)
	}
	pages, err := io.ReadAll(lz4.NewReader(bytes.NewReader(stream[len(compressedMagic):])))
	if err != nil {
		t.Fatalf("decompress the stream: %v", err)
	}
	return pages
}

// compressed returns a snapshot stream that compresses pages as writeStream
// does, whatever pages holds.
func compressed(t testing.TB, pages []byte) []byte {
	t.Helper()
	out := bytes.NewBufferString(compressedMagic)
	zw := lz4.NewWriter(out)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb), lz4.ChecksumOption(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(pages); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// boltCheck runs bbolt's own consistency check on the file at path: every
// page is reachable or free, none both, none twice.
func boltCheck(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("bbolt check of %s: %v", path, err)
	}
}

// TestSnapshotStreamLeavesOutFreePages checks that the stream carries every
// page of the file but those its freelist lists, and that the file a
// restore writes from it has bbolt's consistency and the source's hashes.
func TestSnapshotStreamLeavesOutFreePages(t *testing.T) {
	src := churnedSource(t)
	want := mustHashes(t, src.s)
	stream := snapshotOf(t, src.s)

	var free int
	if err := src.s.db.View(func(tx *bolt.Tx) error {
		free = tx.DB().Stats().FreePageN + tx.DB().Stats().PendingPageN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pages, carried := streamRuns(t, pageStreamOf(t, stream))
	if free == 0 {
		t.Fatal("the source file has no free pages: the test shows nothing")
	}
	if carried+uint64(free) != pages {
		t.Errorf("the stream carries %d of %d pages, the file has %d free: want %d", carried, pages, free, pages-uint64(free))
	}

	path := snapshotFile(t, stream)
	boltCheck(t, path)
	if info, err := os.Stat(path); err != nil || info.Size() != int64(pages)*int64(src.s.db.Info().PageSize) {
		t.Errorf("restored file is %v bytes (%v), want %d pages", info.Size(), err, pages)
	}
	restored := openStore(t, path, true)
	if got := mustHashes(t, restored); got != want {
		t.Errorf("restored hashes %+v, want %+v", got, want)
	}
	if errs := restored.Check(); len(errs) > 0 {
		t.Errorf("Check of the restored file: %v", errs)
	}

	// The restored file's free pages are holes that bbolt fills as it
	// writes: the store applies on top of them and reopens whole.
	h := &harness{t: t, s: restored, index: restored.AppliedIndex(), now: epoch.Add(time.Hour)}
	for i := range 20 {
		h.mustAccept("iss-1", mintBody("REG", "acc-us", fmt.Sprint(i+1)))
	}
	after := mustHashes(t, restored)
	if err := restored.Close(); err != nil {
		t.Fatal(err)
	}
	boltCheck(t, path)
	if got := mustHashes(t, openStore(t, path, true)); got != after {
		t.Errorf("reopened hashes %+v, want %+v", got, after)
	}
}

// TestRestoreReadsEarlierStreams checks that a snapshot written by an
// earlier release, the bbolt file itself, still restores.
func TestRestoreReadsEarlierStreams(t *testing.T) {
	src := churnedSource(t)
	want := mustHashes(t, src.s)
	var legacy bytes.Buffer
	if err := src.s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(&legacy)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for name, stream := range map[string][]byte{
		"the bbolt file":        legacy.Bytes(),
		"the page stream, bare": pageStreamOf(t, snapshotOf(t, src.s)),
	} {
		t.Run(name, func(t *testing.T) {
			s, path := restoreWithHashes(t, stream, want)
			checkReopens(t, s, path, want)
		})
	}
}

// TestSnapshotStreamIsCompressed checks that a snapshot stream is its page
// stream compressed, and smaller.
func TestSnapshotStreamIsCompressed(t *testing.T) {
	stream := snapshotOf(t, churnedSource(t).s)
	pages := pageStreamOf(t, stream)
	if !bytes.HasPrefix(pages, []byte(streamMagic)) {
		t.Fatalf("the compressed stream holds %q..., want a page stream", pages[:min(8, len(pages))])
	}
	streamRuns(t, pages)
	if len(stream) >= len(pages)/2 {
		t.Errorf("the stream is %d bytes for a page stream of %d", len(stream), len(pages))
	}
	t.Logf("%d bytes for a page stream of %d", len(stream), len(pages))
}

// reseal returns stream with its checksum made right for its body: a stream
// malformed by its writer, not damaged on the way.
func reseal(stream []byte) []byte {
	body := bytes.Clone(stream[:len(stream)-sha256.Size])
	sum := sha256.Sum256(body)
	return append(body, sum[:]...)
}

// damagedStreams returns good changed in each way a restore must refuse,
// by name.
func damagedStreams(t *testing.T, good []byte) map[string][]byte {
	t.Helper()
	pageSize := int(binary.BigEndian.Uint32(good[8:]))
	firstPage := streamHeaderLen + streamRunLen
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x20
		return b
	}
	setU64 := func(b []byte, at int, v uint64) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint64(b[at:], v)
		return b
	}
	setU32 := func(b []byte, at int, v uint32) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint32(b[at:], v)
		return b
	}
	// The second run follows the meta pages: where it starts and its count.
	second := firstPage + 2*pageSize
	end := len(good) - sha256.Size - streamRunLen
	return map[string][]byte{
		"a byte changed in a meta page":  flip(firstPage + 20),
		"a byte changed in a data page":  flip(second + streamRunLen + 100),
		"a byte changed in the checksum": flip(len(good) - 1),
		"a byte changed in the header":   flip(13),
		"no checksum":                    good[:len(good)-sha256.Size],
		"half a checksum":                good[:len(good)-sha256.Size/2],
		"no end":                         good[:end],
		"cut inside a run":               good[:second+streamRunLen+pageSize/2],
		"cut inside the header":          good[:streamHeaderLen-3],
		"bytes past the end":             append(bytes.Clone(good), 0),
		"page size not a power of two":   reseal(setU32(good, 8, 3000)),
		"page size zero":                 reseal(setU32(good, 8, 0)),
		"fewer pages than a run reaches": reseal(setU64(good, 12, 5)),
		"no pages":                       reseal(setU64(good, 12, 0)),
		"first run not the meta pages":   reseal(setU64(good, streamHeaderLen, 1)),
		"a run before the one before it": reseal(setU64(good, second, 1)),
		"a run of no pages":              reseal(setU32(good, second+8, 0)),
		"an end that counts pages":       reseal(setU32(good, end+8, 1)),
		"a run past the last page":       reseal(setU64(good, second, 1<<62)),
		"a run whose count overflows":    reseal(setU32(good, second+8, 1<<31)),
		"the end where a run belongs":    reseal(setU64(good, second, streamEnd)),
	}
}

// changesPages returns the first of flip(at), from the middle of stream on,
// that no longer decompresses to the page stream good. A changed byte of
// the compressed data may leave what it decompresses to the same (a match
// moved to other bytes of equal value, zeros most often): that stream is
// not damaged, and a restore rightly takes it.
func changesPages(t *testing.T, stream, good []byte, flip func(at int) []byte) []byte {
	t.Helper()
	for at := len(stream) / 2; at < len(stream); at++ {
		b := flip(at)
		pages, err := io.ReadAll(lz4.NewReader(bytes.NewReader(b[len(compressedMagic):])))
		if err != nil || !bytes.Equal(pages, good) {
			return b
		}
		t.Logf("changing byte %d of %d leaves the pages as they were", at, len(stream))
	}
	t.Fatal("no changed byte of the stream's second half changes its pages")
	return nil
}

// TestRestoreRefusesDamagedStreams checks that a restore refuses every
// damaged or malformed stream and keeps the state it had.
func TestRestoreRefusesDamagedStreams(t *testing.T) {
	stream := snapshotOf(t, churnedSource(t).s)
	good := pageStreamOf(t, stream)
	damaged := map[string][]byte{}
	for name, pages := range damagedStreams(t, good) {
		damaged[name+", bare"] = pages
		damaged[name+", compressed"] = compressed(t, pages)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(stream)
		b[at] ^= 0x20
		return b
	}
	frame := len(compressedMagic)
	damaged["a byte changed in the frame's header"] = flip(frame + 5)
	damaged["a byte changed in the compressed pages"] = changesPages(t, stream, good, flip)
	damaged["the compressed stream cut"] = stream[:len(stream)/2]
	damaged["the frame's end cut"] = stream[:len(stream)-2]
	damaged["bytes after the frame"] = append(bytes.Clone(stream), 1, 2, 3, 4, 5, 6, 7, 8)
	damaged["a second frame after the first"] = append(bytes.Clone(stream), compressed(t, good)[frame:]...)
	damaged["the magic alone"] = []byte(compressedMagic)
	damaged["a compressed bbolt file"] = compressed(t, make([]byte, 4*4096))
	for name, stream := range damaged {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s, h := storeWithPendingWork(t, path, true)
			before := mustHashes(t, s)
			err := s.Restore(bytes.NewReader(stream))
			if err == nil {
				t.Fatal("Restore succeeded, want an error")
			}
			t.Log(err)
			checkRestoreFileGone(t, path)
			if got := mustHashes(t, s); got != before {
				t.Errorf("hashes after a refused restore %+v, want %+v", got, before)
			}
			if got := h.balance("acc-us", "REG"); got != "100" {
				t.Errorf("acc-us REG after a refused restore = %s, want 100", got)
			}
		})
	}
}

// FuzzSnapshotStream feeds a restore's reading of the stream arbitrary
// streams: it must refuse or accept each without panicking, and accept a
// stream of this format, or a page stream, only when the page stream's
// checksum is right. Minimizing a
// 100 KB stream takes the fuzzer minutes, so run it with
// -fuzzminimizetime 0:
//
//	go test ./ledger -run '^$' -fuzz FuzzSnapshotStream -fuzztime 60s -fuzzminimizetime 0
func FuzzSnapshotStream(f *testing.F) {
	h := newHarness(f)
	h.world()
	var good bytes.Buffer
	snap, err := h.s.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	if err := snap.Persist(&good); err != nil {
		f.Fatal(err)
	}
	snap.Release()
	pages := pageStreamOf(f, good.Bytes())
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:len(good.Bytes())/2])
	f.Add(pages)
	f.Add(pages[:streamHeaderLen+streamRunLen+10])
	f.Add([]byte(streamMagic))
	f.Add([]byte(compressedMagic))
	// One file, emptied for each stream: a file made, synced and removed per
	// stream made the fuzzer's minimizing of a 100 KB stream stall on
	// fsyncs.
	out, err := os.CreateTemp(f.TempDir(), "stream")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { out.Close() })
	f.Fuzz(func(t *testing.T, stream []byte) {
		if err := out.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		err := readSnapshot(out, bytes.NewReader(stream))
		if err != nil {
			return
		}
		if bytes.HasPrefix(stream, []byte(compressedMagic)) {
			stream = pageStreamOf(t, stream)
		} else if !bytes.HasPrefix(stream, []byte(streamMagic)) {
			return
		}
		body, sum := stream[:len(stream)-sha256.Size], stream[len(stream)-sha256.Size:]
		if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
			t.Fatalf("accepted a stream whose checksum is %x, want %x", sum, want)
		}
	})
}

// TestSnapshotStreamWhileCommitsGoOn checks that a snapshot persisted after
// later commits have written over pages its freelist listed, and grown the
// file, still restores to the state it was taken at: the stream leaves out
// only pages that its own transaction does not reach.
func TestSnapshotStreamWhileCommitsGoOn(t *testing.T) {
	h := newLayeredHarness(t, 1) // every call commits
	h.world()
	for i := range 30 {
		h.mustAccept("iss-1", mintBody("REG", "inst-us", fmt.Sprint(i+1)))
	}
	// Reopened, the file's freelist is all free, none of it pending for an
	// older reader, so the commits below may write over it at once.
	cfg := h.s.cfg
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.s = openStoreWith(t, cfg)
	h.index = h.s.AppliedIndex()
	want := mustHashes(t, h.s)
	snap, err := h.s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()

	// The pages the snapshot's freelist lists, as they are now.
	sn := snap.(*snapshot)
	pageSize := h.s.db.Info().PageSize
	metas, err := metaPages(sn.tx, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	free, err := freePages(sn.file, pageSize, metas)
	if err != nil {
		t.Fatal(err)
	}
	readPage := func(id uint64) []byte {
		b := make([]byte, pageSize)
		if _, err := sn.file.ReadAt(b, int64(id)*int64(pageSize)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	was := map[uint64][]byte{}
	for id := uint64(0); id < uint64(len(free))*64; id++ {
		if isFree(free, id) {
			was[id] = readPage(id)
		}
	}
	if len(was) == 0 {
		t.Fatal("the snapshot's freelist is empty: the test shows nothing")
	}

	for i := range 200 {
		h.mustAccept("iss-1", mintBody("REG", "acc-us", fmt.Sprint(i+1)))
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	rewritten := 0
	for id, b := range was {
		if !bytes.Equal(readPage(id), b) {
			rewritten++
		}
	}
	if rewritten == 0 {
		t.Fatalf("none of the %d pages the snapshot's freelist lists was written since: the test shows nothing", len(was))
	}

	var stream bytes.Buffer
	if err := snap.Persist(&stream); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	path := snapshotFile(t, stream.Bytes())
	boltCheck(t, path)
	if got := mustHashes(t, openStore(t, path, true)); got != want {
		t.Errorf("restored hashes %+v, want those at the snapshot %+v (%d of its %d free pages written since)", got, want, rewritten, len(was))
	}
}

// TestSnapshotBareIsThePageStream checks that a store configured to write
// bare snapshots (for a rolling upgrade from the last release, which reads
// only those) writes the page stream uncompressed, and that it restores.
func TestSnapshotBareIsThePageStream(t *testing.T) {
	src := churnedSource(t)
	want := mustHashes(t, src.s)
	cfg := src.s.cfg
	if err := src.s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.SnapshotBare = true
	bare := openStoreWith(t, cfg)
	stream := snapshotOf(t, bare)
	if !bytes.HasPrefix(stream, []byte(streamMagic)) {
		t.Fatalf("a bare snapshot starts %q, want %q", stream[:min(8, len(stream))], streamMagic)
	}
	streamRuns(t, stream)
	restoreWithHashes(t, stream, want)
}

// restoreWithHashes restores stream over a store with pending work and
// checks it then has the hashes want; it returns the store and its path.
func restoreWithHashes(t *testing.T, stream []byte, want Hashes) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, _ := storeWithPendingWork(t, path, false)
	if err := s.Restore(bytes.NewReader(stream)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := mustHashes(t, s); got != want {
		t.Errorf("restored hashes %+v, want %+v", got, want)
	}
	return s, path
}
