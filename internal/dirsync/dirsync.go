// Package dirsync makes a directory's entries durable: after a file is
// created, renamed or removed in it, the change survives a crash only once
// the directory itself is synced (fsync on the directory, as etcd's
// fileutil and rqlite do after a rename).
package dirsync

import "os"

// Sync syncs the directory dir.
func Sync(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
