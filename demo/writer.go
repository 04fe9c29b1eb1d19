package demo

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// feedWriter streams records of one feed into numbered drop files of at most max
// records each. A file is written under a dot-name and renamed into place only when
// complete, so a watcher never sees a half-written file (the drop protocol).
type feedWriter struct {
	dir    string // <out>/<feed>
	prefix string // file name prefix, e.g. "demo-s42-20261127-audit"
	ext    string // ".json" or ".csv"
	header []byte // written at the start of every file
	sep    []byte // written between records
	footer []byte // written at the end of every file
	max    int

	f       *os.File
	bw      *bufio.Writer
	tmp     string
	final   string
	inFile  int // records in the open file
	seq     int // files started
	records int // records written by this writer
	files   int // files completed

	buf []byte // scratch for the record being built; reused to keep allocation flat
}

func newJSONWriter(dir, prefix string, max int) *feedWriter {
	return &feedWriter{dir: dir, prefix: prefix, ext: ".json", header: []byte("[\n"),
		sep: []byte(",\n"), footer: []byte("\n]\n"), max: max}
}

func newCSVWriter(dir, prefix, header string, max int) *feedWriter {
	return &feedWriter{dir: dir, prefix: prefix, ext: ".csv", header: []byte(header + "\n"), max: max}
}

// write appends one complete record (JSON object, or CSV row with its newline).
func (w *feedWriter) write(rec []byte) error {
	if w.f != nil && w.inFile >= w.max {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	} else {
		w.bw.Write(w.sep)
	}
	if _, err := w.bw.Write(rec); err != nil {
		return fmt.Errorf("demo: write %s: %w", w.tmp, err)
	}
	w.inFile++
	w.records++
	return nil
}

func (w *feedWriter) open() error {
	w.seq++
	name := fmt.Sprintf("%s-%04d%s", w.prefix, w.seq, w.ext)
	w.final = filepath.Join(w.dir, name)
	w.tmp = filepath.Join(w.dir, "."+name+".tmp")
	f, err := os.Create(w.tmp)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	w.f = f
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 256<<10)
	} else {
		w.bw.Reset(f)
	}
	w.inFile = 0
	w.bw.Write(w.header)
	return nil
}

// closeFile finishes the open file: footer, flush, fsync (so a renamed file is never
// empty after a crash), close, rename into place.
func (w *feedWriter) closeFile() error {
	if w.f == nil {
		return nil
	}
	w.bw.Write(w.footer)
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("demo: write %s: %w", w.tmp, err)
	}
	if err := os.Rename(w.tmp, w.final); err != nil {
		return fmt.Errorf("demo: drop %s: %w", w.final, err)
	}
	w.files++
	return nil
}

// abort removes a half-written file after an error elsewhere.
func (w *feedWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.tmp)
		w.f = nil
	}
}

// JSON building. Records are built by appending into a reused buffer instead of
// encoding/json: generation must reach hundreds of thousands of records per second.
// Each helper writes `"key":value,`; end() turns the trailing comma into the closer.

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func key(b []byte, k string) []byte {
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func ks(b []byte, k, v string) []byte {
	b = key(b, k)
	b = appendJSONString(b, v)
	return append(b, ',')
}

func kbytes(b []byte, k string, v []byte) []byte {
	b = key(b, k)
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"', ',')
}

func ki(b []byte, k string, v int64) []byte {
	b = key(b, k)
	b = appendInt(b, v)
	return append(b, ',')
}

func kb(b []byte, k string, v bool) []byte {
	b = key(b, k)
	if v {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	return append(b, ',')
}

func kstrs(b []byte, k string, vs ...string) []byte {
	b = key(b, k)
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']', ',')
}

// end closes the object or array opened by the caller ('{' or '[').
func end(b []byte, closer byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = closer
		return b
	}
	return append(b, closer)
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// appendGUID writes a random lower-case GUID (8-4-4-4-12 hex digits).
func appendGUID(b []byte, hi, lo uint64) []byte {
	for i := 0; i < 32; i++ {
		switch i {
		case 8, 12, 16, 20:
			b = append(b, '-')
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*uint(i))
		} else {
			nib = lo >> (60 - 4*uint(i-16))
		}
		b = append(b, hexDigits[nib&15])
	}
	return b
}
