// Command gen writes synthetic audit drop files for the ingest benchmark script:
//
//	go run ./bench/gen -dir drop/audit -records 200000 -files 10
//
// Records are realistic Office 365 audit records of about 570 bytes with unique Ids
// (package irm/bench/auditgen); -overlap repeats that many records of each file in the
// next one, to exercise deduplication.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"irm/bench/auditgen"
)

func main() {
	dir := flag.String("dir", "drop/audit", "directory to write the files into (created if missing)")
	records := flag.Int("records", 200000, "total distinct records")
	files := flag.Int("files", 10, "number of files")
	overlap := flag.Int("overlap", 0, "records of each file repeated at the start of the next")
	run := flag.String("run", time.Now().UTC().Format("20060102T150405.000000000"), "run tag that makes Ids unique across runs")
	array := flag.Bool("array", false, "write JSON arrays instead of JSON lines")
	flag.Parse()
	if *files < 1 || *records < *files {
		fmt.Fprintln(os.Stderr, "gen: need -files >= 1 and -records >= -files")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	per := *records / *files
	var bytes int64
	for f := 0; f < *files; f++ {
		from, to := f*per, (f+1)*per
		if f == *files-1 {
			to = *records
		}
		if f > 0 {
			from -= *overlap
		}
		name := filepath.Join(*dir, fmt.Sprintf("audit-%s-%04d.json", *run, f))
		if err := auditgen.WriteFile(name, *run, from, to, *array); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if fi, err := os.Stat(name); err == nil {
			bytes += fi.Size()
		}
	}
	fmt.Printf("gen: %d files, %d records, %d bytes in %s\n", *files, *records, bytes, *dir)
}
