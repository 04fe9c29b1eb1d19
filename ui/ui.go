// Package ui is irm's admin web UI and JSON API: local accounts and sessions, the six
// role groups enforced on every route, settings and the policy wizard (through the
// engine), feed health, accounts, the rule workbench, and the auditors' view of the
// audit log.
//
// Pages are templ components that take plain values; handlers load the data, check
// nothing themselves (the route table does), and render. Every state change goes
// through the engine or, for accounts and sign-in, through store, and is audited.
package ui

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"irm/account"
	"irm/config"
	"irm/dsl"
	"irm/engine"
	"irm/integrations"
	"irm/store"
)

// Options configures the UI handler.
type Options struct {
	DB     *store.DB
	Engine *engine.Engine // required
	Rules  *dsl.Reloader  // optional: indicator and template names for the wizard
	Config *config.Config // optional
	Logger *slog.Logger   // nil = discard
	// Secure marks cookies Secure; set it when serving over TLS.
	Secure bool
	// IdleTimeout signs a session out after this long without a request (0 = 30 min);
	// MaxAge signs it out this long after sign-in whatever happens (0 = 12 h).
	IdleTimeout, MaxAge time.Duration
	// Operations endpoints (ops.go): Metrics serves GET /metrics to the addresses in
	// MetricsAllow (nil handler: 404); Ready backs GET /readyz (nil: ready).
	Metrics      http.Handler
	MetricsAllow []netip.Prefix
	Ready        func() error
	// Integrations are the webhooks and the SIEM export (nil: not in this process).
	Integrations *integrations.Service
}

//go:embed static
var staticFS embed.FS

type server struct {
	db       *store.DB
	eng      *engine.Engine
	rules    *dsl.Reloader
	cfg      *config.Config
	log      *slog.Logger
	secure   bool
	idle     time.Duration
	maxAge   time.Duration
	throttle *throttle
	refusals *refusalLog
	origin   *http.CrossOriginProtection // first CSRF layer; the synchronizer token is the second
	hashing  chan struct{}               // bounds concurrent password checks (argon2: 19 MiB each)
	pseudo   []byte                      // HMAC key for pseudonyms
	orgAddr  *regexp.Regexp              // addresses in the organisation's domains (privacy.go)
	orgDrive *regexp.Regexp              // their OneDrive spelling
	people   *people                     // pseudonym -> user (people.go)
	now      func() time.Time
	mux      *http.ServeMux
	routes   []route

	// The rule workbench: test results of the rules in force, and backtests, which end
	// with ctx (Close).
	tests     testCache
	jobs      btJobs
	ctx       context.Context
	cancelCtx context.CancelFunc
	ops       opsEndpoints
	api       huma.API // the REST API's declaration (api.go): its OpenAPI document
	integ     *integrations.Service
}

// route is one entry of the site map: who may do what where.
type route struct {
	Method, Path string
	Perm         account.Perm // "" = public
	h            handler
}

// handler serves a request whose session and permission the route table has checked;
// c is nil on public routes.
type handler func(w http.ResponseWriter, r *http.Request, c *reqCtx)

// Handler is the UI and API. Close it before closing the store: it writes the pending
// summaries of refused sign-ins.
type Handler struct {
	http.Handler
	s *server
}

// Close writes what the UI still holds for the audit log (sign-in refusal summaries)
// and stops the backtests still running.
func (h *Handler) Close() {
	h.s.cancelCtx()
	h.s.refusals.flush()
}

// New returns the UI and API handler.
func New(opt Options) (*Handler, error) {
	s, err := newServer(opt)
	if err != nil {
		return nil, err
	}
	return &Handler{Handler: s.headers(s.mux), s: s}, nil
}

func newServer(opt Options) (*server, error) {
	if opt.DB == nil {
		return nil, errors.New("ui: Options.DB is required")
	}
	if opt.Engine == nil {
		return nil, errors.New("ui: Options.Engine is required")
	}
	s := &server{
		db: opt.DB, eng: opt.Engine, rules: opt.Rules, cfg: opt.Config, log: opt.Logger,
		secure: opt.Secure, idle: opt.IdleTimeout, maxAge: opt.MaxAge,
		throttle: newThrottle(), now: time.Now, mux: http.NewServeMux(),
		origin:  http.NewCrossOriginProtection(),
		hashing: make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		ops:     opsEndpoints{metrics: opt.Metrics, allow: opt.MetricsAllow, ready: opt.Ready},
		integ:   opt.Integrations,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancelCtx = context.WithCancel(context.Background())
	s.refusals = newRefusalLog(s.db, s.log, func() time.Time { return s.now() })
	if s.idle <= 0 {
		s.idle = 30 * time.Minute
	}
	if s.maxAge <= 0 {
		s.maxAge = 12 * time.Hour
	}
	key, err := account.PseudonymKey(s.db)
	if err != nil {
		return nil, err
	}
	s.pseudo = key
	if s.cfg != nil {
		s.orgAddr, s.orgDrive = orgPatterns(s.cfg.Org.Domains)
	}
	s.people = newPeople(s.eng, key)
	s.routes = s.siteMap()
	s.api = s.newAPI()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.guard(rt))
	}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	s.mux.HandleFunc("/", s.notFound)
	return s, nil
}

// siteMap is the whole UI: every page and API call, with the permission it needs.
func (s *server) siteMap() []route {
	return []route{
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/readyz", "", s.readyz},
		{"GET", "/metrics", "", s.metrics},
		{"GET", "/login", "", s.showLogin},
		{"POST", "/login", "", s.signIn},
		{"GET", "/logout", account.PermSignedIn, s.showLogout},
		{"POST", "/logout", account.PermSignedIn, s.signOut},
		{"GET", "/{$}", account.PermSignedIn, s.showOverview},
		{"POST", "/privacy/reveal", account.PermRealNames, s.setReveal},

		{"GET", "/settings", account.PermConfigure, s.showSettings},
		{"POST", "/settings", account.PermConfigure, s.saveSettings},
		{"GET", "/policies", account.PermConfigure, s.showPolicies},
		{"GET", "/policies/new", account.PermConfigure, s.showWizard},
		{"POST", "/policies/new", account.PermConfigure, s.stepWizard},
		{"GET", "/policies/scoring", account.PermConfigure, s.showScoring},
		{"POST", "/policies/scoring", account.PermConfigure, s.startScoring},
		{"GET", "/policies/{name}", account.PermConfigure, s.showPolicy},
		{"POST", "/policies/{name}", account.PermConfigure, s.savePolicy},
		{"POST", "/policies/{name}/delete", account.PermConfigure, s.deletePolicy},
		{"GET", "/connectors", account.PermConnectors, s.showConnectors},
		{"GET", "/analytics", account.PermConfigure, s.showAnalytics},
		{"POST", "/analytics", account.PermConfigure, s.refreshAnalytics},

		{"GET", "/alerts", account.PermAlerts, s.showAlerts},
		{"POST", "/alerts/bulk", account.PermAlerts, s.bulkAlerts},
		{"GET", "/alerts/{id}", account.PermAlerts, s.showAlert},
		{"POST", "/alerts/{id}/status", account.PermAlerts, s.setAlertStatus},
		{"POST", "/alerts/{id}/assign", account.PermAlerts, s.assignAlert},
		{"POST", "/alerts/{id}/case", account.PermAlerts, s.confirmAlert},
		{"GET", "/users/{ref}", account.PermAlerts, s.showUser},
		{"GET", "/cases", account.PermAlerts, s.showCases},
		{"GET", "/cases/{id}", account.PermAlerts, s.showCase},
		{"POST", "/cases/{id}/notes", account.PermAlerts, s.addCaseNote},
		{"POST", "/cases/{id}/alerts", account.PermAlerts, s.addCaseAlerts},
		{"POST", "/cases/{id}/resolve", account.PermAlerts, s.resolveCase},
		{"GET", "/cases/{id}/content", account.PermRawContent, s.showCaseContent},
		{"POST", "/cases/{id}/notices", account.PermRawContent, s.sendNotice},
		{"GET", "/notices", account.PermRawContent, s.showNotices},
		{"POST", "/notices", account.PermRawContent, s.saveNotice},
		{"POST", "/notices/{name}/delete", account.PermRawContent, s.deleteNotice},

		{"GET", "/admin/users", account.PermAccounts, s.showUsers},
		{"POST", "/admin/users", account.PermAccounts, s.createUser},
		{"POST", "/admin/users/{name}", account.PermAccounts, s.updateUser},
		{"POST", "/admin/tokens", account.PermAccounts, s.createTokenForm},
		{"POST", "/admin/tokens/{name}/revoke", account.PermAccounts, s.revokeTokenForm},
		{"GET", "/webhooks", account.PermConfigure, s.showWebhooks},
		{"POST", "/webhooks", account.PermConfigure, s.createWebhook},
		{"GET", "/webhooks/{id}", account.PermConfigure, s.showWebhook},
		{"POST", "/webhooks/{id}/delete", account.PermConfigure, s.deleteWebhook},
		{"POST", "/webhooks/{id}/ping", account.PermConfigure, s.pingWebhook},

		{"GET", "/rules", account.PermRules, s.showRules},
		{"GET", "/rules/edit", account.PermRules, s.showRuleEditor},
		{"POST", "/rules/edit", account.PermRules, s.postRuleEditor},
		{"GET", "/rules/backtests/{id}", account.PermRules, s.showBacktest},

		{"GET", "/audit", account.PermAudit, s.showAudit},
		{"GET", "/audit/export.csv", account.PermAudit, s.exportAudit},

		// The REST API's operations join this table from api.go (newAPI).
	}
}

// headers sets the security headers every response carries. The CSP allows only this
// origin's own scripts and styles, so even a value that slipped past escaping could not run.
func (s *server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServer(http.FS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request, _ *reqCtx) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.db.Badger().IsClosed() {
		http.Error(w, "store closed", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}
