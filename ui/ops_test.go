package ui

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"testing"
)

// TestOpsEndpoints: /metrics answers only the addresses in metrics.allow, without a
// session; /readyz reports the readiness check's reason with 503.
func TestOpsEndpoints(t *testing.T) {
	env := newTestEnv(t)
	served := false
	env.srv.ops.metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served = true
		w.Write([]byte("irm_up 1\n"))
	})
	anon := env.client()

	// The test client is 127.0.0.1: not in a list of other networks.
	env.srv.ops.allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	if got := anon.do("GET", "/metrics", nil, nil).StatusCode; got != http.StatusForbidden || served {
		t.Fatalf("/metrics from an address not allowed: %d (served %v), want 403", got, served)
	}
	env.srv.ops.allow = append(env.srv.ops.allow, netip.MustParsePrefix("127.0.0.1/32"))
	resp := anon.do("GET", "/metrics", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "irm_up 1\n" {
		t.Fatalf("/metrics from an allowed address: %d %q", resp.StatusCode, body)
	}

	if got := anon.do("GET", "/readyz", nil, nil).StatusCode; got != 200 {
		t.Fatalf("/readyz without a check: %d", got)
	}
	env.srv.ops.ready = func() error { return errors.New("engine index not built yet") }
	resp = anon.do("GET", "/readyz", nil, nil)
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "not ready: engine index not built yet\n" {
		t.Fatalf("/readyz not ready: %d %q", resp.StatusCode, body)
	}
}
