package integrations

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"irm/config"
	"irm/dsl"
	"irm/engine"
	"irm/rules"
	"irm/store"
)

const upn = "alice.smith@contoso.com"

// appliance is the part of irm an integration needs: a real store in a directory that
// survives a restart, and a real engine that knows the alerts.
type appliance struct {
	t   *testing.T
	dir string
	key string
	db  *store.DB
	eng *engine.Engine
	svc *Service
	cfg *config.Config

	cancel context.CancelFunc
	done   chan struct{}
}

func testConfig() *config.Config {
	cfg := &config.Config{}
	cfg.Org.Domains = []string{"contoso.com"}
	cfg.SIEM.Facility, cfg.SIEM.QueueMax = "local4", 1000
	cfg.Webhooks.RetryFirstMS, cfg.Webhooks.RetryMaxMinutes, cfg.Webhooks.GiveUpHours, cfg.Webhooks.TimeoutSeconds = 150, 1, 24, 5
	return cfg
}

// plantAlert stores an alert as the engine keeps it (the engine loads it at start).
func plantAlert(t *testing.T, db *store.DB, id, severity string) {
	t.Helper()
	now := time.Now().UTC()
	a := engine.Alert{ID: id, User: upn, Policy: "Departing users", Template: "data_theft_departing", Severity: severity, Score: 81,
		Status: engine.StatusNeedsReview, Created: now, Updated: now, RiskFactors: []string{"sequence"}, Title: "Departing users: copying to USB by alice.smith"}
	b, _ := json.Marshal(a)
	if err := db.PutDocs([]store.Doc{{Key: store.AlertDocKey(id), Value: b}}); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, dir, key string, cfg *config.Config, setup func(db *store.DB)) *appliance {
	t.Helper()
	db, err := store.Open(dir, store.Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(db)
	}
	rl, err := dsl.NewReloader(rules.FS, t.TempDir(), dsl.Options{OrgDomains: cfg.Org.Domains})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(db, rl, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pseudoKey, err := db.SecretKey("pseudonym")
	if err != nil {
		t.Fatal(err)
	}
	view := Viewer{
		Alert: func(id string, real bool) (engine.Alert, bool) {
			a, ok := eng.Alert(id)
			if ok && !real {
				p := engine.PseudonymOf(pseudoKey, a.User)
				a = a.ForViewer(p, func(s string) string { return strings.ReplaceAll(s, "alice.smith", p) })
			}
			return a, ok
		},
		Case: func(id string, real bool) (engine.Case, bool) { return eng.Case(id) },
	}
	svc, err := New(Options{DB: db, View: view, Config: cfg, Poll: 10 * time.Millisecond, BaseURL: "https://irm.example", Version: "test",
		Jitter: func(d time.Duration) time.Duration { return d }})
	if err != nil {
		t.Fatal(err)
	}
	a := &appliance{t: t, dir: dir, key: key, db: db, eng: eng, svc: svc, cfg: cfg, done: make(chan struct{})}
	var ctx context.Context
	ctx, a.cancel = context.WithCancel(context.Background())
	go func() { defer close(a.done); svc.Run(ctx) }()
	t.Cleanup(a.stop)
	return a
}

// stop ends the service and closes the store, as a stopping serve does.
func (a *appliance) stop() {
	if a.db == nil {
		return
	}
	a.cancel()
	<-a.done
	a.db.Close()
	a.db = nil
}

// engineAudits writes the audit entry the engine writes when it raises an alert.
func (a *appliance) alertCreated(id string) {
	a.t.Helper()
	if _, err := a.db.Audit("engine", "alerts", "alert created", id, nil, map[string]any{"user": upn, "severity": "high", "score": 81}, ""); err != nil {
		a.t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hookServer answers 500 to the first fails requests, then 200, verifying every
// signature with the webhook's secret.
type hookServer struct {
	t      *testing.T
	mu     sync.Mutex
	secret string
	fails  int
	got    []hookRequest
	ts     *httptest.Server
}

type hookRequest struct {
	status             int
	delivery, event    string
	body               []byte
	sigErr             error
	receivedAfterStart int
}

func newHookServer(t *testing.T, fails int) *hookServer {
	h := &hookServer{t: t, fails: fails}
	h.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		req := hookRequest{delivery: r.Header.Get("X-Irm-Delivery"), event: r.Header.Get("X-Irm-Event"), body: b,
			sigErr: Verify(h.secret, r.Header.Get("X-Irm-Signature"), b, time.Now(), 5*time.Minute)}
		req.status = 200
		if len(h.got) < h.fails {
			req.status = 500
		}
		h.got = append(h.got, req)
		w.WriteHeader(req.status)
	}))
	t.Cleanup(h.ts.Close)
	return h
}

func (h *hookServer) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

// TestWebhookRetriedAcrossRestart (must-show): a webhook receiver answers 500 twice,
// then accepts; the appliance is stopped and started again (store closed and
// reopened) after the first refusal. Every request carries a valid signature over the
// same body, nothing is lost and nothing is accepted twice, and the delivery log tells
// the story.
func TestWebhookRetriedAcrossRestart(t *testing.T) {
	dir, key := t.TempDir(), filepath.Join(t.TempDir(), "audit.key")
	cfg := testConfig()
	hs := newHookServer(t, 2)
	a := open(t, dir, key, cfg, func(db *store.DB) { plantAlert(t, db, "A000000000001", "high") })
	wh, secret, err := a.svc.CreateWebhook("admin", WebhookSpec{Name: "tickets", URL: hs.ts.URL + "/hook?token=s3cr3t", Events: []string{AlertCreated}})
	if err != nil {
		t.Fatal(err)
	}
	hs.mu.Lock()
	hs.secret = secret
	hs.mu.Unlock()
	a.alertCreated("A000000000001")
	waitFor(t, "the first attempt", func() bool { return len(hs.requests()) >= 1 })
	a.stop() // the restart: the retry is only in the database now
	beforeRestart := len(hs.requests())

	b := open(t, dir, key, cfg, nil)
	waitFor(t, "the delivery to be accepted", func() bool {
		ds, _ := b.svc.Deliveries(wh.ID, 0)
		return len(ds) == 1 && ds[0].State == Delivered
	})
	got := hs.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3 (500, 500, 200)", len(got))
	}
	if beforeRestart > 2 {
		t.Fatalf("all attempts happened before the restart (%d)", beforeRestart)
	}
	for i, r := range got {
		if r.sigErr != nil {
			t.Errorf("request %d: %v", i+1, r.sigErr)
		}
		if string(r.body) != string(got[0].body) || r.delivery != got[0].delivery || r.event != AlertCreated {
			t.Errorf("request %d differs from the first: %s %s %s", i+1, r.delivery, r.event, r.body)
		}
	}
	if got[2].status != 200 || got[0].status != 500 || got[1].status != 500 {
		t.Errorf("statuses %d %d %d", got[0].status, got[1].status, got[2].status)
	}
	// A tampered body or another secret does not verify.
	sig := Sign(secret, time.Now(), got[0].body)
	if Verify(secret, sig, append([]byte("x"), got[0].body...), time.Now(), time.Minute) == nil || Verify("other-secret-123456", sig, got[0].body, time.Now(), time.Minute) == nil {
		t.Error("Verify accepts a tampered body or the wrong secret")
	}
	var ev Event
	if err := json.Unmarshal(got[2].body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != AlertCreated || ev.Alert == nil || ev.Alert.ID != "A000000000001" || ev.Alert.Severity != "high" || ev.Alert.URL != "https://irm.example/alerts/A000000000001" {
		t.Errorf("payload: %s", got[2].body)
	}
	if !ev.Alert.Pseudonymous || strings.Contains(string(got[2].body), "alice") {
		t.Errorf("the payload names the user: %s", got[2].body)
	}
	ds, _ := b.svc.Deliveries(wh.ID, 0)
	if ds[0].Attempts != 3 || ds[0].LastStatus != 200 || ds[0].DeliveredAt.IsZero() || string(ds[0].Payload) != string(got[0].body) {
		t.Errorf("delivery log: %+v", ds[0])
	}
	if st := b.svc.Stats(); st.WebhookDelivered != 1 || st.WebhookFailures < 1 {
		t.Errorf("stats after restart: %+v", st)
	}
	// The secret and the URL's query never reach the audit log.
	b.db.AuditEntries(store.AuditFilter{}, func(e store.AuditEntry) error {
		if all := string(e.After) + string(e.Before) + e.Details; strings.Contains(all, secret) || strings.Contains(all, "s3cr3t") {
			t.Errorf("audit entry %s / %s holds the webhook's secret: %s", e.Category, e.Activity, all)
		}
		return nil
	})
}

// TestWebhookGivesUp: a delivery still refused give_up_hours after its event is
// failed, not retried for ever.
func TestWebhookGivesUp(t *testing.T) {
	cfg := testConfig()
	cfg.Webhooks.RetryFirstMS = 1
	hs := newHookServer(t, 1000)
	a := open(t, t.TempDir(), filepath.Join(t.TempDir(), "k"), cfg, func(db *store.DB) { plantAlert(t, db, "A000000000002", "low") })
	var mu sync.Mutex
	clock := time.Now()
	a.svc.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	wh, secret, err := a.svc.CreateWebhook("admin", WebhookSpec{Name: "down", URL: hs.ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	hs.mu.Lock()
	hs.secret = secret
	hs.mu.Unlock()
	a.alertCreated("A000000000002")
	waitFor(t, "a refused attempt", func() bool { return len(hs.requests()) >= 1 })
	mu.Lock()
	clock = clock.Add(25 * time.Hour)
	mu.Unlock()
	waitFor(t, "the delivery to be given up", func() bool {
		ds, _ := a.svc.Deliveries(wh.ID, 0)
		return len(ds) == 1 && ds[0].State == Failed
	})
	if st := a.svc.Stats(); st.WebhookGaveUp != 1 {
		t.Errorf("stats: %+v", st)
	}
}

var (
	rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) irm - (\S+) - (CEF:0\|.*)$`)
	cefRE   = regexp.MustCompile(`^CEF:0\|irm\|irm\|([^|]*)\|([^|]*)\|((?:[^|\\]|\\.)*)\|(\d+)\|(.*)$`)
)

// readFrame reads one octet-counted syslog frame (RFC 6587 3.4.1).
func readFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	n, err := r.ReadString(' ')
	if err != nil {
		t.Fatalf("read frame length: %v", err)
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
	if err != nil || size <= 0 || size > 1<<16 {
		t.Fatalf("frame length %q", n)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cefFields parses the extension of a CEF line (key=value, values escaped).
func cefFields(ext string) map[string]string {
	out := map[string]string{}
	keyRE := regexp.MustCompile(`(?:^| )([A-Za-z0-9]+)=`)
	locs := keyRE.FindAllStringSubmatchIndex(ext, -1)
	for i, l := range locs {
		end := len(ext)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		v := ext[l[1]:end]
		if strings.HasSuffix(v, `\`) { // an escaped "=": not a key boundary
			continue
		}
		out[ext[l[2]:l[3]]] = strings.NewReplacer(`\=`, `=`, `\\`, `\`, `\n`, "\n").Replace(v)
	}
	return out
}

// TestSIEMSendsCEF: a new alert reaches a syslog listener on loopback TCP as one
// octet-counted RFC 5424 message whose text is a well-formed CEF line.
func TestSIEMSendsCEF(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig()
	cfg.SIEM.Address = "tcp://" + ln.Addr().String()
	a := open(t, t.TempDir(), filepath.Join(t.TempDir(), "k"), cfg, func(db *store.DB) { plantAlert(t, db, "A000000000003", "high") })
	a.alertCreated("A000000000003")
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	msg := readFrame(t, bufio.NewReader(conn))
	m := rfc5424.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not an RFC 5424 message: %q", msg)
	}
	if pri, _ := strconv.Atoi(m[1]); pri != 20*8+2 || m[4] != "alert_created" {
		t.Errorf("PRI %s (want local4.crit = 162), MSGID %s", m[1], m[4])
	}
	c := cefRE.FindStringSubmatch(m[5])
	if c == nil {
		t.Fatalf("not a CEF line: %q", m[5])
	}
	if c[1] != "test" || c[2] != AlertCreated || c[4] != "9" || !strings.HasPrefix(c[3], "Alert created: ") {
		t.Errorf("CEF header: version %q signature %q name %q severity %q", c[1], c[2], c[3], c[4])
	}
	f := cefFields(c[5])
	if f["externalId"] != "A000000000003" || f["cs1"] != "Departing users" || f["cs1Label"] != "policy" || f["cn1"] != "81" ||
		!strings.HasPrefix(f["suser"], "Anon-") || f["request"] != "https://irm.example/alerts/A000000000003" || f["rt"] == "" {
		t.Errorf("CEF extension: %v", f)
	}
	if strings.Contains(msg, "alice") {
		t.Errorf("the line names the user: %s", msg)
	}
	waitFor(t, "the queue to empty", func() bool { return a.svc.Stats().SIEMQueue == 0 && a.svc.Stats().SIEMSent == 1 })
}

// TestSIEMQueueIsBounded: with the SIEM unreachable, lines wait in a queue of at most
// queue_max, the oldest are dropped and counted, failures are counted, and nothing
// waits on the SIEM (Dispatch returns at once).
func TestSIEMQueueIsBounded(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every connection is refused
	cfg := testConfig()
	cfg.SIEM.Address, cfg.SIEM.QueueMax = "tcp://"+addr, 3
	a := open(t, t.TempDir(), filepath.Join(t.TempDir(), "k"), cfg, func(db *store.DB) {
		for i := range 5 {
			plantAlert(t, db, "A00000000001"+strconv.Itoa(i), "medium")
		}
	})
	a.svc.siem.minBackoff = 10 * time.Millisecond
	for i := range 5 {
		a.alertCreated("A00000000001" + strconv.Itoa(i))
	}
	waitFor(t, "the queue to fill", func() bool {
		st := a.svc.Stats()
		return st.SIEMQueue == 3 && st.SIEMDropped == 2 && st.SIEMFailures > 0
	})
	n := 0
	a.db.OutboxKeys(store.OutboxSIEM, func(string) error { n++; return nil })
	if n != 3 {
		t.Errorf("%d lines on disk, want 3", n)
	}
}

func TestCEFEscaping(t *testing.T) {
	ev := Event{Type: AlertCreated, Time: time.Unix(0, 0), Alert: &AlertInfo{ID: "A1", Title: "a|b=c\\d\ne", Severity: "low"}}
	line := CEF("1|2", ev)
	if !strings.HasPrefix(line, `CEF:0|irm|irm|1\|2|alert.created|Alert created: a\|b=c\\d e|3|`) {
		t.Errorf("header: %s", line)
	}
	if !strings.Contains(line, `msg=a|b\=c\\d\ne`) {
		t.Errorf("extension: %s", line)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and writes it (PEM) to dir/ca.pem.
func selfSigned(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "siem.test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// TestSIEMOverTLS: with tls:// and the server's CA in ca_file, the line arrives over
// TLS with the same framing (RFC 5425); a server whose certificate the CA did not sign
// is refused and counted as a failure.
func TestSIEMOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, caFile := selfSigned(t, dir)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig()
	cfg.SIEM.Address, cfg.SIEM.CAFile = "tls://"+ln.Addr().String(), caFile
	a := open(t, t.TempDir(), filepath.Join(t.TempDir(), "k"), cfg, func(db *store.DB) { plantAlert(t, db, "A000000000004", "low") })
	a.alertCreated("A000000000004")
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	msg := readFrame(t, bufio.NewReader(conn))
	if m := rfc5424.FindStringSubmatch(msg); m == nil || !cefRE.MatchString(m[5]) {
		t.Fatalf("over TLS: %q", msg)
	}

	// Another CA: the connection is refused.
	_, otherCA := selfSigned(t, t.TempDir())
	cfg2 := testConfig()
	cfg2.SIEM.Address, cfg2.SIEM.CAFile = "tls://"+ln.Addr().String(), otherCA
	b := open(t, t.TempDir(), filepath.Join(t.TempDir(), "k"), cfg2, func(db *store.DB) { plantAlert(t, db, "A000000000005", "low") })
	b.svc.siem.minBackoff = 10 * time.Millisecond
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	b.alertCreated("A000000000005")
	waitFor(t, "a refused TLS connection", func() bool { st := b.svc.Stats(); return st.SIEMFailures > 0 && st.SIEMSent == 0 && st.SIEMQueue == 1 })
}
