package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Badger's DB.Sync covers only the active memtable WAL and the active value-log file. With
// SyncWrites off, a commit that spans a rotation leaves its first part in a rotated-out
// .mem or .vlog file that nobody has synced yet (Badger syncs a rotated .vlog only with
// SyncWrites on, and an immutable memtable only once it is flushed to an SST, later). A
// power cut in that window would lose writes that CommitEvents had already reported as
// durable. SyncWrites on would close the window too, but costs a sync per write request
// (about 3 ms here) for every writer, including the UI's and engine's small updates.
//
// fileSyncer closes the window: after Badger's Sync it lists the directory and fsyncs every
// .mem and .vlog file that was active at or after the previous durable sync and has been
// rotated out since, then the directory (new files' entries). Rotations are rare (every
// 16 MiB of keys or 128 MiB of values), so usually this costs one ReadDir.
type fileSyncer struct {
	mu       sync.Mutex
	dir      string
	mem, vlg int // highest .mem and .vlog file ids seen at the previous durable sync
}

func (s *fileSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", s.dir, err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	rotated, mem, vlg := s.rotated(names)
	if mem == s.mem && vlg == s.vlg {
		return nil
	}
	for _, name := range rotated {
		if err := fsyncPath(filepath.Join(s.dir, name)); err != nil {
			return err
		}
	}
	if err := fsyncPath(s.dir); err != nil {
		return err
	}
	s.mem, s.vlg = mem, vlg
	return nil
}

// rotated returns the files among names that need an fsync (see fileSyncer) and the
// highest .mem and .vlog ids now present.
func (s *fileSyncer) rotated(names []string) (out []string, mem, vlg int) {
	type file struct {
		name string
		id   int
		vlog bool
	}
	var files []file
	mem, vlg = s.mem, s.vlg
	for _, name := range names {
		ext := filepath.Ext(name)
		if ext != ".mem" && ext != ".vlog" {
			continue
		}
		id, err := strconv.Atoi(strings.TrimSuffix(name, ext))
		if err != nil {
			continue
		}
		f := file{name, id, ext == ".vlog"}
		files = append(files, f)
		if f.vlog {
			vlg = max(vlg, id)
		} else {
			mem = max(mem, id)
		}
	}
	for _, f := range files {
		lo, hi := s.mem, mem
		if f.vlog {
			lo, hi = s.vlg, vlg
		}
		if f.id >= lo && f.id < hi {
			out = append(out, f.name)
		}
	}
	return out, mem, vlg
}

func fsyncPath(p string) error {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a memtable already flushed to a (synced) table and removed
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	return nil
}
