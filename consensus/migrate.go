package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"

	"github.com/tokenledger/tokenledger/internal/dirsync"
)

// migrateBatchEntries bounds the log entries copied in one append to the WAL.
const migrateBatchEntries = 256

// boltStableBucket is the bucket raft-boltdb keeps the stable store in.
// StableStore cannot list its keys, so MigrateLogStore reads them from it
// directly (TestMigrateLogStore fails if raft-boltdb renames it).
var boltStableBucket = []byte("conf")

// MigrateLogStore moves the raft log and stable store of dir (a Config.DataDir
// of a stopped node) from raft.db into a WAL: it copies everything into
// wal.migrating/, reads the copy back and compares it with raft.db entry by
// entry and key by key, then renames wal.migrating/ to wal/ and raft.db to
// raft.db.migrated. Every step can be interrupted and the call repeated:
// until wal/ exists Open keeps using raft.db, and a dir with both makes Open
// fail with ErrLogStoreConflict until this finishes. A dir already on the WAL
// is left as it is. It fails while a node has raft.db open.
func MigrateLogStore(ctx context.Context, dir string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(keyComponent, "consensus", keyDataDir, dir)
	hasBolt, err := exists(filepath.Join(dir, boltFile))
	if err != nil {
		return err
	}
	hasWAL, err := exists(filepath.Join(dir, walDir))
	if err != nil {
		return err
	}
	switch {
	case !hasBolt && hasWAL:
		logger.Info("log store already migrated", keyLogStore, LogStoreWAL)
		return nil
	case !hasBolt:
		return fmt.Errorf("consensus: migrate %s: no %s and no %s/ (not a raft data dir?)", dir, boltFile, walDir)
	}
	hcl := newHCLogAdapter(logger.With(keyComponent, "raft"))
	if !hasWAL {
		if err := copyToWAL(ctx, dir, hcl, logger); err != nil {
			return err
		}
	}
	// wal/ now exists. Verify it again even when an earlier call renamed it
	// there: nothing may retire raft.db but a copy that matches it.
	if err := verifyWAL(dir, walDir, hcl); err != nil {
		return fmt.Errorf("consensus: migrate %s: %w", dir, err)
	}
	if err := renameSynced(dir, boltFile, boltRetired); err != nil {
		return err
	}
	logger.Info("log store migrated", keyLogStore, LogStoreWAL, "retired", boltRetired)
	return nil
}

// copyToWAL copies raft.db into a fresh wal.migrating/, verifies it, and
// renames it to wal/.
func copyToWAL(ctx context.Context, dir string, hcl *hclogAdapter, logger *slog.Logger) error {
	// A copy left by an interrupted call may be partial; start over.
	if err := os.RemoveAll(filepath.Join(dir, walCopyDir)); err != nil {
		return fmt.Errorf("consensus: migrate %s: remove old copy: %w", dir, err)
	}
	keys, err := boltStableKeys(filepath.Join(dir, boltFile))
	if err != nil {
		return fmt.Errorf("consensus: migrate %s: %w", dir, err)
	}
	src, err := openBolt(filepath.Join(dir, boltFile), true)
	if err != nil {
		return fmt.Errorf("consensus: migrate %s: open %s (is the node still running?): %w", dir, boltFile, err)
	}
	defer src.Close()
	dst, err := openWAL(dir, walCopyDir, hcl, 0)
	if err != nil {
		return fmt.Errorf("consensus: migrate %s: create %s: %w", dir, walCopyDir, err)
	}
	first, last, err := copyRange(dir, src, hcl)
	entries := 0
	if err == nil {
		entries, err = copyLogs(ctx, dst, src, first, last)
	}
	if err == nil {
		err = copyStable(dst, src, keys)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("consensus: migrate %s: %w", dir, err)
	}
	logger.Info("copied raft log", "entries", entries, "stable_keys", len(keys))
	if err := verifyAgainst(dir, walCopyDir, src, hcl); err != nil {
		return fmt.Errorf("consensus: migrate %s: %w", dir, err)
	}
	return renameSynced(dir, walCopyDir, walDir)
}

// boltStableKeys lists raft.db's stable-store keys, refusing any it does not
// know how to copy: raft-boltdb and raft-wal encode numbers differently, so
// a key's type must be known.
func boltStableKeys(path string) ([]string, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: boltOpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s (is the node still running?): %w", path, err)
	}
	defer db.Close()
	var keys []string
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(boltStableBucket)
		if b == nil {
			return fmt.Errorf("%s has no %q bucket", path, boltStableBucket)
		}
		return b.ForEach(func(k, _ []byte) error {
			key := string(k)
			if !slices.Contains(stableStoreUint64Keys, key) && !stableStoreBytesKey(key) {
				return fmt.Errorf("%w %q in %s", errUnknownStableKey, key, path)
			}
			keys = append(keys, key)
			return nil
		})
	})
	return keys, err
}

// copyRange returns the log entries to copy: the whole log, or, if it has a
// gap, the entries after the last one. raft-boltdb keeps a gap after a
// follower installs a snapshot from the leader (it cannot tell raft it
// refuses gaps, so raft leaves older entries in place); raft-wal refuses
// gaps, and raft deletes the older entries itself in that case. They are
// covered by the snapshot, which the copy checks before leaving them out.
func copyRange(dir string, src raft.LogStore, hcl *hclogAdapter) (first, last uint64, err error) {
	first, last, err = logBounds(src)
	if err != nil || last == 0 {
		return 0, 0, err
	}
	for i := last; i > first; i-- {
		var l raft.Log
		err := src.GetLog(i-1, &l)
		if err == nil {
			continue
		}
		if !errors.Is(err, raft.ErrLogNotFound) {
			return 0, 0, fmt.Errorf("read log entry %d: %w", i-1, err)
		}
		snapshot, err := latestSnapshotIndex(dir, hcl)
		if err != nil {
			return 0, 0, err
		}
		if snapshot < i-1 {
			return 0, 0, fmt.Errorf("log entry %d is missing and the latest snapshot (index %d) does not cover the entries before it", i-1, snapshot)
		}
		return i, last, nil
	}
	return first, last, nil
}

func latestSnapshotIndex(dir string, hcl *hclogAdapter) (uint64, error) {
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, hcl)
	if err != nil {
		return 0, fmt.Errorf("snapshot store: %w", err)
	}
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return 0, err
	}
	return metas[0].Index, nil
}

func copyLogs(ctx context.Context, dst, src raft.LogStore, first, last uint64) (int, error) {
	if last == 0 {
		return 0, nil
	}
	batch := make([]*raft.Log, 0, migrateBatchEntries)
	copied := 0
	for i := first; i <= last; i++ {
		if err := ctx.Err(); err != nil {
			return copied, err
		}
		var l raft.Log
		if err := src.GetLog(i, &l); err != nil {
			return copied, fmt.Errorf("read log entry %d: %w", i, err)
		}
		batch = append(batch, &l)
		if len(batch) == cap(batch) || i == last {
			if err := dst.StoreLogs(batch); err != nil {
				return copied, fmt.Errorf("write log entries up to %d: %w", i, err)
			}
			copied += len(batch)
			batch = batch[:0]
		}
	}
	return copied, nil
}

func copyStable(dst, src raft.StableStore, keys []string) error {
	for _, key := range keys {
		k := []byte(key)
		if slices.Contains(stableStoreUint64Keys, key) {
			v, err := src.GetUint64(k)
			if err == nil {
				err = dst.SetUint64(k, v)
			}
			if err != nil {
				return fmt.Errorf("copy %s: %w", key, err)
			}
			continue
		}
		v, err := src.Get(k)
		if err == nil {
			err = dst.Set(k, v)
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", key, err)
		}
	}
	return nil
}

// verifyWAL compares dir/name with raft.db.
func verifyWAL(dir, name string, hcl *hclogAdapter) error {
	src, err := openBolt(filepath.Join(dir, boltFile), true)
	if err != nil {
		return fmt.Errorf("open %s (is the node still running?): %w", boltFile, err)
	}
	defer src.Close()
	return verifyAgainst(dir, name, src, hcl)
}

// verifyAgainst reopens the WAL in dir/name and checks it holds exactly src's
// log entries and stable-store keys.
func verifyAgainst(dir, name string, src raftStore, hcl *hclogAdapter) error {
	keys, err := boltStableKeys(filepath.Join(dir, boltFile))
	if err != nil {
		return err
	}
	first, last, err := copyRange(dir, src, hcl)
	if err != nil {
		return err
	}
	dst, err := openWAL(dir, name, hcl, 0)
	if err != nil {
		return fmt.Errorf("reopen %s: %w", name, err)
	}
	defer dst.Close()
	if err := sameLogs(dst, src, first, last); err != nil {
		return fmt.Errorf("verify %s: %w", name, err)
	}
	if err := sameStable(dst, src, keys); err != nil {
		return fmt.Errorf("verify %s: %w", name, err)
	}
	return nil
}

// errUnknownStableKey is wrapped when raft.db holds a stable-store key
// this version does not know the type of.
var errUnknownStableKey = errors.New("unknown stable-store key")

// errCopyDiffers is wrapped by every difference verification finds.
var errCopyDiffers = errors.New("copy differs from raft.db")

// sameLogs checks got holds exactly want's entries wantFirst..wantLast.
func sameLogs(got, want raft.LogStore, wantFirst, wantLast uint64) error {
	gotFirst, gotLast, err := logBounds(got)
	if err != nil {
		return err
	}
	if gotFirst != wantFirst || gotLast != wantLast {
		return fmt.Errorf("%w: log entries %d..%d, want %d..%d", errCopyDiffers, gotFirst, gotLast, wantFirst, wantLast)
	}
	for i := wantFirst; wantLast > 0 && i <= wantLast; i++ {
		var g, w raft.Log
		if err := want.GetLog(i, &w); err != nil {
			return fmt.Errorf("read log entry %d: %w", i, err)
		}
		if err := got.GetLog(i, &g); err != nil {
			return fmt.Errorf("read copied log entry %d: %w", i, err)
		}
		if g.Index != w.Index || g.Term != w.Term || g.Type != w.Type ||
			!bytes.Equal(g.Data, w.Data) || !bytes.Equal(g.Extensions, w.Extensions) || !g.AppendedAt.Equal(w.AppendedAt) {
			return fmt.Errorf("%w: log entry %d", errCopyDiffers, i)
		}
	}
	return nil
}

func sameStable(got, want raft.StableStore, keys []string) error {
	for _, key := range keys {
		k := []byte(key)
		if slices.Contains(stableStoreUint64Keys, key) {
			g, gerr := got.GetUint64(k)
			w, werr := want.GetUint64(k)
			if err := errors.Join(gerr, werr); err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			if g != w {
				return fmt.Errorf("%w: %s is %d, want %d", errCopyDiffers, key, g, w)
			}
			continue
		}
		g, gerr := got.Get(k)
		w, werr := want.Get(k)
		if err := errors.Join(gerr, werr); err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		if !bytes.Equal(g, w) {
			return fmt.Errorf("%w: %s differs", errCopyDiffers, key)
		}
	}
	return nil
}

// logBounds returns the first and last index, both zero for an empty log.
func logBounds(s raft.LogStore) (first, last uint64, err error) {
	if first, err = s.FirstIndex(); err != nil {
		return 0, 0, fmt.Errorf("first index: %w", err)
	}
	if last, err = s.LastIndex(); err != nil {
		return 0, 0, fmt.Errorf("last index: %w", err)
	}
	if last == 0 {
		first = 0
	}
	return first, last, nil
}

// renameSynced renames dir/from to dir/to and syncs dir, so the rename
// survives a crash before the next step relies on it.
func renameSynced(dir, from, to string) error {
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		return fmt.Errorf("consensus: migrate %s: %w", dir, err)
	}
	if err := dirsync.Sync(dir); err != nil {
		return fmt.Errorf("consensus: migrate %s: sync dir: %w", dir, err)
	}
	return nil
}
