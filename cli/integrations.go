package cli

import (
	"log/slog"
	"net"
	"os"

	"irm/config"
	"irm/engine"
	"irm/integrations"
	"irm/metrics"
	"irm/store"
	"irm/ui"
)

// startIntegrations opens the webhooks and SIEM export of serve and puts their
// counters on /metrics. handler gives the UI once it exists: integrations see alerts
// and cases as it shows them to a viewer without real names.
func startIntegrations(db *store.DB, cfg *config.Config, log *slog.Logger, handler func() *ui.Handler, m *metrics.Metrics) (*integrations.Service, error) {
	view := integrations.Viewer{
		Alert: func(id string, real bool) (engine.Alert, bool) { return handler().ViewAlert(id, real) },
		Case:  func(id string, real bool) (engine.Case, bool) { return handler().ViewCase(id, real) },
	}
	svc, err := integrations.New(integrations.Options{DB: db, View: view, Config: cfg, Log: log, BaseURL: baseURL(cfg), Version: Version})
	if err != nil {
		return nil, err
	}
	st := func(f func(integrations.Stats) int64) func() float64 {
		return func() float64 { return float64(f(svc.Stats())) }
	}
	m.CounterFunc("irm_webhook_delivery_failures_total", "Webhook delivery attempts that failed (no 2xx answer, refused, timed out).",
		st(func(s integrations.Stats) int64 { return s.WebhookFailures }))
	m.CounterFunc("irm_webhook_deliveries_total", "Webhook deliveries accepted by their receiver.",
		st(func(s integrations.Stats) int64 { return s.WebhookDelivered }))
	m.CounterFunc("irm_webhook_deliveries_given_up_total", "Webhook deliveries given up after [webhooks] give_up_hours.",
		st(func(s integrations.Stats) int64 { return s.WebhookGaveUp }))
	m.GaugeFunc("irm_webhook_deliveries_pending", "Webhook deliveries waiting for their first try or a retry.",
		st(func(s integrations.Stats) int64 { return s.WebhookPending }))
	m.CounterFunc("irm_siem_sent_total", "CEF lines sent to the SIEM.", st(func(s integrations.Stats) int64 { return s.SIEMSent }))
	m.CounterFunc("irm_siem_failures_total", "Failed connections or writes to the SIEM.", st(func(s integrations.Stats) int64 { return s.SIEMFailures }))
	m.CounterFunc("irm_siem_dropped_total", "CEF lines dropped because the SIEM queue was full ([siem] queue_max).",
		st(func(s integrations.Stats) int64 { return s.SIEMDropped }))
	m.GaugeFunc("irm_siem_queue_depth", "CEF lines waiting in the on-disk queue for the SIEM.", st(func(s integrations.Stats) int64 { return s.SIEMQueue }))
	return svc, nil
}

// baseURL is where people reach the UI, for links in webhook payloads and CEF lines.
func baseURL(cfg *config.Config) string {
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
