package consensus

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// TestCheckBoltFile checks that a raft log file cut short or with corrupt
// meta pages is refused as ErrDamaged before raft opens it, and that a
// missing, empty or whole one passes.
func TestCheckBoltFile(t *testing.T) {
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "raft.db")
		store, err := raftboltdb.New(raftboltdb.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		logs := make([]*raft.Log, 500)
		for i := range logs {
			logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(i)}, 200)}
		}
		if err := store.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		if err := store.SetUint64([]byte("CurrentTerm"), 7); err != nil {
			t.Fatal(err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	page := int64(os.Getpagesize())
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		damaged bool
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "raft.db") }, false},
		{"empty", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "raft.db")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}, false},
		{"whole", build, false},
		{"cut short", func(t *testing.T) string {
			path := build(t)
			if err := os.Truncate(path, 4*page); err != nil {
				t.Fatal(err)
			}
			return path
		}, true},
		{"meta pages overwritten", func(t *testing.T) string {
			path := build(t)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, off := range []int64{16, page + 16} {
				if _, err := f.WriteAt(bytes.Repeat([]byte{0x5A}, 64), off); err != nil {
					t.Fatal(err)
				}
			}
			return path
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			err := checkBoltFile(path)
			if got := errors.Is(err, ErrDamaged); got != tc.damaged {
				t.Errorf("checkBoltFile: %v; damaged %v, want %v", err, got, tc.damaged)
			}
			if !tc.damaged && err != nil {
				t.Errorf("checkBoltFile on a usable file: %v", err)
			}
		})
	}
}
