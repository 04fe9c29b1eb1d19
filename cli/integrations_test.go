package cli

import (
	"bufio"
	"encoding/json"
	"io"
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

	"irm/integrations"
)

// syslogSink collects the octet-counted syslog messages of every connection.
type syslogSink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func newSyslogSink(t *testing.T) *syslogSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogSink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					n, err := r.ReadString(' ')
					if err != nil {
						return
					}
					size, err := strconv.Atoi(strings.TrimSpace(n))
					if err != nil || size <= 0 || size > 1<<16 {
						s.add("BAD FRAME " + n)
						return
					}
					b := make([]byte, size)
					if _, err := io.ReadFull(r, b); err != nil {
						return
					}
					s.add(string(b))
				}
			}()
		}
	}()
	return s
}

func (s *syslogSink) add(m string) { s.mu.Lock(); s.msgs = append(s.msgs, m); s.mu.Unlock() }

func (s *syslogSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

var cefLine = regexp.MustCompile(`^<\d{1,3}>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ irm - alert_created - CEF:0\|irm\|irm\|[^|]+\|alert\.created\|Alert created: [^|]*\|[369]\|rt=\d+ externalId=A[0-9A-F]{12} suser=Anon-[0-9A-F]{6} `)

func apiCall(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestIntegrationsThroughServe (must-show): on a running serve over the demo
// organisation, an API token is made with `irm token create` through the control
// socket, a webhook is added with it through the API, and the demo's files are
// dropped. The engine's new alerts reach a syslog listener on loopback TCP as
// well-formed CEF lines, and the webhook (refusing twice, then accepting) with valid
// signatures; /metrics shows the delivery failures and the queue; `irm analytics`
// recommends a template without naming anyone; a revoked token stops working.
func TestIntegrationsThroughServe(t *testing.T) {
	sink := newSyslogSink(t)
	e := newTestEnv(t, "[siem]\naddress = \"tcp://"+sink.ln.Addr().String()+"\"\n[webhooks]\nretry_first_ms = 50\n")
	e.mustIRM(t, "demo", "-out", e.drop, "-users", "100", "-days", "90", "-seed", "5")
	e.mustIRM(t, "settings", "import", filepath.Join(e.drop, "settings.toml"))
	e.mustIRM(t, "policy", "import", filepath.Join(e.drop, "policies.toml"))
	var manifest struct{ Users []string }
	b, _ := os.ReadFile(filepath.Join(e.drop, "manifest.json"))
	json.Unmarshal(b, &manifest)
	feeds := filepath.Join(e.dir, "feeds")
	if err := os.Rename(e.drop, feeds); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var secret string
	var hookStatus []int
	var sigErrs []error
	var accepted []integrations.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := integrations.Verify(secret, r.Header.Get("X-Irm-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			sigErrs = append(sigErrs, err)
		}
		status := 200
		if len(hookStatus) < 2 {
			status = 500
		}
		hookStatus = append(hookStatus, status)
		if status == 200 {
			var ev integrations.Event
			json.Unmarshal(body, &ev)
			accepted = append(accepted, ev)
		}
		w.WriteHeader(status)
	}))
	defer hook.Close()

	s := e.startServe(t)
	token := strings.TrimSpace(e.mustIRM(t, "token", "create", "-name", "soc", "-role", "Admin", "-expires", "30d"))
	e.mustBeHeld(t) // the token was made inside serve, through the control socket
	if !strings.HasPrefix(token, "irm_") {
		t.Fatalf("token create printed %q", token)
	}
	if list := e.mustIRM(t, "token", "list"); !strings.Contains(list, "soc") || strings.Contains(list, token) {
		t.Errorf("token list:\n%s", list)
	}
	code, b := apiCall(t, "POST", s.url+"/api/v1/webhooks", token, `{"name":"soc","url":"`+hook.URL+`/irm","events":["alert.created"]}`)
	var created struct{ ID, Secret string }
	if json.Unmarshal(b, &created); code != 201 || created.Secret == "" {
		t.Fatalf("create webhook: %d %s", code, b)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()

	for _, feed := range []string{"hr", "audit", "badging", "dlp", "defender"} {
		names, _ := filepath.Glob(filepath.Join(feeds, feed, "*"))
		for _, name := range names {
			os.Rename(name, filepath.Join(e.drop, feed, filepath.Base(name)))
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		cef := 0
		for _, m := range sink.all() {
			if cefLine.MatchString(m) {
				cef++
			}
		}
		if n > 0 && cef > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 90 s: %d webhook deliveries accepted, %d CEF lines of %d messages:\n%s\n%s", n, cef, len(sink.all()), strings.Join(sink.all(), "\n"), s.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, m := range sink.all() {
		if strings.HasPrefix(m, "BAD FRAME") {
			t.Errorf("syslog: %s", m)
		}
	}
	mu.Lock()
	if len(sigErrs) > 0 || hookStatus[0] != 500 || hookStatus[1] != 500 || accepted[0].Type != integrations.AlertCreated || !strings.HasPrefix(accepted[0].Alert.User, "Anon-") {
		t.Errorf("webhook: statuses %v, signature errors %v, first accepted %+v", hookStatus, sigErrs, accepted[0])
	}
	mu.Unlock()

	fams := scrape(t, s.url)
	for _, name := range []string{"irm_webhook_delivery_failures_total", "irm_webhook_deliveries_pending", "irm_siem_queue_depth", "irm_siem_failures_total", "irm_siem_dropped_total", "irm_siem_sent_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if v := value(fams, "irm_webhook_delivery_failures_total"); v < 2 {
		t.Errorf("irm_webhook_delivery_failures_total %v, want at least the 2 refusals", v)
	}
	if v := value(fams, "irm_siem_sent_total"); v < 1 {
		t.Errorf("irm_siem_sent_total %v", v)
	}

	out := e.mustIRM(t, "analytics")
	if !strings.Contains(out, "RECOMMENDED") || !strings.Contains(out, "/policies/new?template=") {
		t.Errorf("irm analytics:\n%s", out)
	}
	js := e.mustIRM(t, "analytics", "-json")
	for _, u := range manifest.Users {
		if strings.Contains(out, u) || strings.Contains(js, u) {
			t.Errorf("irm analytics names %s", u)
		}
	}

	e.mustIRM(t, "token", "revoke", "soc")
	if code, _ := apiCall(t, "GET", s.url+"/api/v1/webhooks", token, ""); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}
	s.stop(t)
	// The audit log has the token's life and the webhook, without secrets.
	list := e.mustIRM(t, "audit", "list", "-json", "-limit", "0")
	for _, want := range []string{"Created API token", "Added webhook", "Revoked API token", "API token refused"} {
		if !strings.Contains(list, want) {
			t.Errorf("the audit log has no %q", want)
		}
	}
	if strings.Contains(list, token) || strings.Contains(list, created.Secret) {
		t.Error("the audit log holds a secret")
	}
}
