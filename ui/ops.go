package ui

// Operations endpoints for monitoring: /readyz beside /healthz, and /metrics for
// Prometheus. They need no session (a scraper has none); /metrics answers only the
// addresses in the config's metrics.allow.

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
)

type opsEndpoints struct {
	metrics http.Handler
	allow   []netip.Prefix
	ready   func() error
}

// readyz says whether the appliance is doing its work (store open, engine built,
// ingest running): 200 "ready", else 503 with the reason. /healthz only says the
// process answers.
func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ *reqCtx) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.db.Badger().IsClosed() {
		http.Error(w, "not ready: store closed", http.StatusServiceUnavailable)
		return
	}
	if s.ops.ready != nil {
		if err := s.ops.ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ready\n"))
}

func (s *server) metrics(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.ops.metrics == nil {
		http.Error(w, "metrics are not served by this handler", http.StatusNotFound)
		return
	}
	if !s.ops.allowed(r.RemoteAddr) {
		s.log.Warn("metrics: refused a client not in metrics.allow", "remote", r.RemoteAddr)
		http.Error(w, "forbidden: this address is not in metrics.allow", http.StatusForbidden)
		return
	}
	s.ops.metrics.ServeHTTP(w, r)
}

func (o *opsEndpoints) allowed(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	return slices.ContainsFunc(o.allow, func(p netip.Prefix) bool { return p.Contains(ip) })
}
