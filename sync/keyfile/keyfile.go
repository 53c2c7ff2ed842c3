// Package keyfile writes secret files (keys, certificates) the way every part of onepass needs
// them written: 0600, atomically, and durably, so a power cut leaves the old file or the new one,
// never half a key.
package keyfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes b to path with mode 0600 through a temporary file, fsync and rename, then syncs the
// directory so the rename itself survives a power cut.
func Write(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	// A temporary file left by a crash keeps its old mode through O_TRUNC: set it, whatever the
	// umask or the leftover.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keyfile: write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
