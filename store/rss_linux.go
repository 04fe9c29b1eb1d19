//go:build linux

package store

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// releaseMapped drops this process's page-table references to the pages of Badger's
// memory-mapped files (value log, memtable logs, tables) in dir.
//
// Badger v4 writes and reads its files through shared mmaps, so every page it touches
// stays in the process's resident set until the kernel needs the memory: ingesting 300,000
// events left ~400 MiB of file pages resident on top of the Go heap. They are only cache,
// but they count against RSS budgets and cgroup accounting looks at them first.
// MADV_DONTNEED on a shared file mapping just unmaps the pages: their contents stay in the
// page cache (dirty pages are still written back, and synced data is already on disk), and
// the next access faults the same page back in. It never changes what Badger reads.
func releaseMapped(dir string) error {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	prefix := []byte(filepath.Clean(dir) + "/")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// "7f0e1c000000-7f0e24000000 rw-s 00000000 fd:01 1234   /data/000001.vlog"
		line := sc.Bytes()
		i := bytes.IndexByte(line, '/')
		if i < 0 || !bytes.HasPrefix(line[i:], prefix) {
			continue
		}
		fields := bytes.Fields(line[:i])
		if len(fields) < 2 || len(fields[1]) != 4 || fields[1][3] != 's' {
			continue // only shared file mappings: DONTNEED would discard private pages
		}
		lo, hi, ok := bytes.Cut(fields[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED); e != 0 {
			return e
		}
	}
	return sc.Err()
}
