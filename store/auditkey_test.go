package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func report(t *testing.T, db *DB, anchor string) AuditReport {
	t.Helper()
	r, err := db.VerifyAudit(anchor)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func entry(t *testing.T, db *DB, seq uint64) AuditEntry {
	t.Helper()
	var e AuditEntry
	if err := json.Unmarshal(rawGet(t, db, auditKey(seq)), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// writeHead stores a head record as the store would, signed with the key: the tests of
// the head checks need heads that pass the signature check and differ in one thing.
func writeHead(t *testing.T, db *DB, h AuditHead) {
	t.Helper()
	v, _ := json.Marshal(signedHead{AuditHead: h, MAC: db.headMAC(h)})
	rawSet(t, db, []byte(keyAuditHead), v)
}

func TestAuditKeyFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	keyFile := filepath.Join(root, "secrets", "audit.key")
	db, err := Open(dir, Options{AuditKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, 3)
	db.Close()
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 600", fi.Mode().Perm())
	}
	// The same key on the next open: the chain still verifies.
	db, err = Open(dir, Options{AuditKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if r := report(t, db, ""); r.Broken || r.Checked != 3 {
		t.Fatalf("reopened: %+v", r)
	}
	db.Close()

	// A key readable by others is refused, naming the file and the fix.
	os.Chmod(keyFile, 0o644)
	if _, err := Open(dir, Options{AuditKeyFile: keyFile}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(keyFile, 0o600)
	// A key inside the data directory is refused.
	if _, err := Open(dir, Options{AuditKeyFile: filepath.Join(dir, "k")}); err == nil || !strings.Contains(err.Error(), "inside the data directory") {
		t.Fatalf("key inside data dir: %v", err)
	}
	// Garbage in the key file is an error, not a new key.
	os.WriteFile(keyFile, []byte("short\n"), 0o600)
	if _, err := Open(dir, Options{AuditKeyFile: keyFile}); err == nil || !strings.Contains(err.Error(), "hex digits") {
		t.Fatalf("garbage key: %v", err)
	}

	// Another installation's key (a lost key file replaced by a new one) does not verify
	// the log: the first entry is reported.
	os.Remove(keyFile)
	db, err = Open(dir, Options{AuditKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if r := report(t, db, ""); !r.Broken || r.BrokenAt != 1 {
		t.Fatalf("other key: %+v", r)
	}
}

// TestAuditRechainDetected: someone who rewrites every entry from some point on with a
// fresh chain (recomputing hashes, links and the head) is caught, because they do not
// have the key. Before the chain was keyed this passed verification.
func TestAuditRechainDetected(t *testing.T) {
	db := openTest(t, Options{})
	appendN(t, db, 6)
	prev := entry(t, db, 2).Hash
	var last AuditEntry
	for seq := uint64(3); seq <= 6; seq++ {
		e := entry(t, db, seq)
		e.Details = "rewritten"
		e.Prev = prev
		e.Hash = ""
		b, _ := json.Marshal(&e)
		sum := sha256.Sum256(b)
		e.Hash = hex.EncodeToString(sum[:])
		v, _ := json.Marshal(&e)
		rawSet(t, db, auditKey(seq), v)
		prev, last = e.Hash, e
	}
	h, _ := json.Marshal(signedHead{AuditHead: AuditHead{Seq: 6, Hash: last.Hash}, MAC: "forged"})
	rawSet(t, db, []byte(keyAuditHead), h)
	if r := report(t, db, ""); !r.Broken || r.BrokenAt != 3 || !strings.Contains(r.Reason, "HMAC") {
		t.Fatalf("re-chained from 3: %+v", r)
	}
}

// TestAuditTruncateDetected: cutting entries off the end and moving the head to the new
// last entry is caught by the head's signature; with a replayed old head (taken from an
// earlier copy of the database) only an anchor recorded outside can tell.
func TestAuditTruncateDetected(t *testing.T) {
	db := openTest(t, Options{})
	appendN(t, db, 4)
	oldHead := rawGet(t, db, []byte(keyAuditHead)) // an attacker's earlier copy
	es := appendN(t, db, 2)
	anchor := es[1].Hash // what the periodic anchor wrote to syslog

	rawDelete(t, db, auditKey(5))
	rawDelete(t, db, auditKey(6))
	e4 := entry(t, db, 4)
	moved, _ := json.Marshal(signedHead{AuditHead: AuditHead{Seq: 4, Hash: e4.Hash}, MAC: strings.Repeat("0", 64)})
	rawSet(t, db, []byte(keyAuditHead), moved)
	if r := report(t, db, ""); !r.Broken || r.BrokenAt != 4 || !strings.Contains(r.Reason, "head") {
		t.Fatalf("truncated, head moved without the key: %+v", r)
	}

	rawSet(t, db, []byte(keyAuditHead), oldHead)
	if r := report(t, db, ""); r.Broken {
		t.Fatalf("truncated to a replayed head verifies as intact without an anchor (documented limit), got %+v", r)
	}
	r := report(t, db, anchor)
	if !r.Broken || !strings.Contains(r.Reason, "not in the log") {
		t.Fatalf("truncated, checked against the anchor: %+v", r)
	}
	// The anchor of an entry still present passes and says where it is.
	if r := report(t, db, e4.Hash); r.Broken || r.AnchorSeq != 4 {
		t.Fatalf("anchor of entry 4: %+v", r)
	}
}

// TestAuditHeadChecks kills two deliberate bugs: verification without the "newest entry
// equals the head" check, and without the "no entries after the head" check. The heads
// here are correctly signed, so only those checks can catch them.
func TestAuditHeadChecks(t *testing.T) {
	t.Run("last entry differs from head", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 5)
		writeHead(t, db, AuditHead{Seq: 5, Hash: entry(t, db, 4).Hash})
		if r := report(t, db, ""); !r.Broken || r.BrokenAt != 5 || !strings.Contains(r.Reason, "does not match the recorded head") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("entries after head", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 5)
		writeHead(t, db, AuditHead{Seq: 3, Hash: entry(t, db, 3).Hash})
		if r := report(t, db, ""); !r.Broken || r.BrokenAt != 4 || !strings.Contains(r.Reason, "after the recorded head") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("head missing", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 2)
		rawDelete(t, db, []byte(keyAuditHead))
		if r := report(t, db, ""); !r.Broken || r.BrokenAt != 2 {
			t.Fatalf("%+v", r)
		}
		// An append with the head gone continues the chain instead of overwriting entry 1.
		if e, err := db.AppendAudit(AuditEntry{Category: "x", Activity: "y"}); err != nil || e.Seq != 3 {
			t.Fatalf("append without head: %+v %v", e, err)
		}
	})
}

// TestAuditRestoreOlderBackup: restoring an older backup over a newer log is recorded
// with the head it replaced, and verification reports the entries that are gone;
// restoring the newest backup loses nothing.
func TestAuditRestoreOlderBackup(t *testing.T) {
	key := filepath.Join(t.TempDir(), "audit.key")
	src := openTest(t, Options{AuditKeyFile: key})
	appendN(t, src, 3)
	var older bytes.Buffer
	if err := src.Backup(&older); err != nil {
		t.Fatal(err)
	}
	appendN(t, src, 3) // an account created after the backup, say
	replaced, err := src.AuditHead()
	if err != nil || replaced.Seq != 6 {
		t.Fatalf("head %+v %v", replaced, err)
	}

	dst := openTest(t, Options{AuditKeyFile: key})
	if err := dst.Restore(bytes.NewReader(older.Bytes())); err != nil {
		t.Fatal(err)
	}
	e, err := dst.AuditRestore("cli:root", "/backups/old.bak", "abc", &replaced)
	if err != nil || e.Seq != 4 || e.Category != "backup" || !strings.Contains(e.Details, replaced.Hash) {
		t.Fatalf("restore entry %+v %v", e, err)
	}
	r := report(t, dst, "")
	if r.Broken || !r.Lost() || len(r.Restores) != 1 || r.Restores[0].Replaced.Seq != 6 || r.Restores[0].Restored.Seq != 3 || r.Restores[0].Actor != "cli:root" {
		t.Fatalf("older backup: %+v", r)
	}
	// The anchor taken before the restore is found as the replaced head.
	if r := report(t, dst, replaced.Hash); r.Broken {
		t.Fatalf("anchor of the replaced head: %+v", r)
	}

	var newest bytes.Buffer
	if err := src.Backup(&newest); err != nil {
		t.Fatal(err)
	}
	dst2 := openTest(t, Options{AuditKeyFile: key})
	if err := dst2.Restore(bytes.NewReader(newest.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := dst2.AuditRestore("cli:root", "new.bak", "", &replaced); err != nil {
		t.Fatal(err)
	}
	if r := report(t, dst2, ""); r.Broken || r.Lost() || len(r.Restores) != 1 {
		t.Fatalf("newest backup: %+v", r)
	}
}

func TestAuditPrune(t *testing.T) {
	db := openTest(t, Options{})
	es := appendN(t, db, 10) // one a minute from t0
	cutoff := t0.Add(6*time.Minute + time.Second)
	n, cp, err := db.PruneAudit(cutoff)
	if err != nil || n != 7 || cp == nil || cp.Seq != 7 || cp.Hash != es[6].Hash {
		t.Fatalf("prune: %d %+v %v", n, cp, err)
	}
	r := report(t, db, "")
	// 8, 9, 10 and the pruning's own entry 11.
	if r.Broken || r.Checked != 4 || r.First != 8 || r.Checkpoint == nil || r.Head.Seq != 11 {
		t.Fatalf("after prune: %+v", r)
	}
	last := entry(t, db, 11)
	if last.Category != "audit" || last.Activity != "Pruned audit log" || !strings.Contains(last.Details, "7 entries") {
		t.Fatalf("prune entry %+v", last)
	}
	if r := report(t, db, es[6].Hash); r.Broken {
		t.Fatalf("anchor at the checkpoint: %+v", r)
	}
	if r := report(t, db, es[2].Hash); !r.Broken || !strings.Contains(r.Reason, "checkpoint") {
		t.Fatalf("anchor older than the checkpoint: %+v", r)
	}
	if n, cp, err := db.PruneAudit(cutoff); n != 0 || cp != nil || err != nil {
		t.Fatalf("second prune: %d %v %v", n, cp, err)
	}

	// A forged checkpoint (moved on to hide entries 8-9) is caught by its signature.
	saved := rawGet(t, db, []byte(keyAuditCheckpoint))
	var forged AuditCheckpoint
	json.Unmarshal(saved, &forged)
	forged.AuditHead = AuditHead{Seq: 9, Hash: entry(t, db, 9).Hash}
	v, _ := json.Marshal(forged)
	rawSet(t, db, []byte(keyAuditCheckpoint), v)
	if r := report(t, db, ""); !r.Broken || !strings.Contains(r.Reason, "checkpoint") {
		t.Fatalf("forged checkpoint: %+v", r)
	}
	// Without the checkpoint, the pruned entries are missing.
	rawDelete(t, db, []byte(keyAuditCheckpoint))
	if r := report(t, db, ""); !r.Broken || r.BrokenAt != 1 {
		t.Fatalf("checkpoint removed: %+v", r)
	}
	rawSet(t, db, []byte(keyAuditCheckpoint), saved)
	if r := report(t, db, ""); r.Broken {
		t.Fatalf("checkpoint back: %+v", r)
	}
}

// TestAuditLegacyResign: a log written before the chain was keyed is re-signed when the
// key is created, if its plain SHA-256 chain is intact; with an existing key, a
// SHA-256 chain is a forgery and stays reported.
func TestAuditLegacyResign(t *testing.T) {
	root := t.TempDir()
	dir, key := filepath.Join(root, "data"), filepath.Join(root, "audit.key")
	db, err := Open(dir, Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	for seq := uint64(1); seq <= 3; seq++ {
		e := AuditEntry{Seq: seq, Time: t0, Actor: "old", Category: "settings", Activity: "legacy", Prev: prev}
		b, _ := json.Marshal(&e)
		sum := sha256.Sum256(b)
		e.Hash = hex.EncodeToString(sum[:])
		v, _ := json.Marshal(&e)
		rawSet(t, db, auditKey(seq), v)
		hv, _ := json.Marshal(AuditHead{Seq: seq, Hash: e.Hash})
		rawSet(t, db, []byte(keyAuditHead), hv)
		prev = e.Hash
	}
	if r := report(t, db, ""); !r.Broken || r.BrokenAt != 1 {
		t.Fatalf("legacy chain under an existing key: %+v", r)
	}
	db.Close()
	os.Remove(key)
	db, err = Open(dir, Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := report(t, db, "")
	if r.Broken || r.Checked != 4 {
		t.Fatalf("re-signed: %+v", r)
	}
	if e := entry(t, db, 4); e.Activity != "Re-signed audit log" || !strings.Contains(string(e.After), prev) {
		t.Fatalf("re-sign entry %+v", e)
	}
}

// TestAuditFieldLimits: no caller can store an unbounded or invalid-UTF-8 field.
func TestAuditFieldLimits(t *testing.T) {
	db := openTest(t, Options{})
	huge := strings.Repeat("é", 2<<20)
	e, err := db.Audit(huge, "signin", "Sign-in failed", huge, nil, map[string]string{"x": "a\xffb"}, huge+"\xfe")
	if err != nil {
		t.Fatal(err)
	}
	stored := entry(t, db, e.Seq)
	if len(stored.Actor) > maxAuditActor+32 || len(stored.Target) > maxAuditTarget+32 || len(stored.Details) > maxAuditDetails+32 {
		t.Fatalf("stored lengths %d %d %d", len(stored.Actor), len(stored.Target), len(stored.Details))
	}
	if !strings.HasSuffix(stored.Actor, "bytes)") || !json.Valid(rawGet(t, db, auditKey(e.Seq))) || bytes.Contains(rawGet(t, db, auditKey(e.Seq)), []byte{0xff}) {
		t.Fatalf("stored %q", stored.Actor[len(stored.Actor)-20:])
	}
	if r := report(t, db, ""); r.Broken {
		t.Fatalf("%+v", r)
	}
}
