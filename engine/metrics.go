package engine

// Read-only figures for the /metrics endpoint, counted under the engine's lock without
// copying the alerts themselves (a scrape every few seconds must stay cheap).

// AlertCount is the number of alerts of one policy, severity and status.
type AlertCount struct {
	Policy, Severity, Status string
	N                        int
}

// AlertCounts counts the alerts by policy, severity and status.
func (e *Engine) AlertCounts() []AlertCount {
	type key struct{ policy, severity, status string }
	e.mu.Lock()
	m := map[key]int{}
	for _, a := range e.alerts {
		m[key{a.Policy, a.Severity, a.Status}]++
	}
	e.mu.Unlock()
	out := make([]AlertCount, 0, len(m))
	for k, n := range m {
		out = append(out, AlertCount{Policy: k.policy, Severity: k.severity, Status: k.status, N: n})
	}
	return out
}

// Ready reports whether the engine's per-user index is built, so that alerts and scopes
// reflect the stored events.
func (e *Engine) Ready() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.built
}
