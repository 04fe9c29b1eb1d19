// Package integrations sends what happens to alerts and cases out of the appliance:
// signed webhooks (webhook.go) and CEF lines over syslog to a SIEM (siem.go).
//
// Its one input is the audit log. The engine records every alert it raises, every
// severity it raises and every status change, and every case change, in the audit log
// before anything else sees them, synced to disk. A dispatcher reads the entries after
// its cursor, turns them into events, and writes the webhook deliveries and SIEM lines
// they cause together with the moved cursor in one synced batch. So integrations never
// slow ingestion or evaluation down (nothing waits for them), and a crash or restart at
// any point neither loses an event nor sends one twice from the queue; an attempt
// under way when the process stopped is retried.
package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"irm/config"
	"irm/engine"
	"irm/store"
)

// Event types.
const (
	AlertCreated        = "alert.created"
	AlertSeverityRaised = "alert.severity_raised"
	AlertStatusChanged  = "alert.status_changed"
	CaseCreated         = "case.created"
	CaseAlertsAdded     = "case.alerts_added"
	CaseNoteAdded       = "case.note_added"
	CaseResolved        = "case.resolved"
	Ping                = "ping"
)

// EventTypes lists the event types a webhook can subscribe to.
var EventTypes = []string{AlertCreated, AlertSeverityRaised, AlertStatusChanged, CaseCreated, CaseAlertsAdded, CaseNoteAdded, CaseResolved}

// Viewer shows alerts and cases as an integration may see them: the user as a
// pseudonym and names in free text replaced, unless realNames (and then only when the
// settings pseudonymise at all). Users whose priority group names its own viewers are
// hidden (false).
type Viewer struct {
	Alert func(id string, realNames bool) (engine.Alert, bool)
	Case  func(id string, realNames bool) (engine.Case, bool)
}

// Options configure the service.
type Options struct {
	DB     *store.DB
	View   Viewer
	Config *config.Config // [siem] and [webhooks]; required
	Log    *slog.Logger
	// Poll is how often the audit log, due retries and the SIEM queue are looked at
	// (default 1 s).
	Poll time.Duration
	// BaseURL starts the links to alerts and cases in payloads ("" = no links).
	BaseURL string
	// Version is irm's, for CEF's device version.
	Version string
	Now     func() time.Time
	// Jitter spreads a retry delay (default: uniformly in [d/2, d]).
	Jitter func(d time.Duration) time.Duration
	// HTTPClient sends webhooks (default: one with [webhooks] timeout_seconds).
	HTTPClient *http.Client
}

// Service dispatches events to webhooks and the SIEM. Its methods are safe for
// concurrent use.
type Service struct {
	db   *store.DB
	view Viewer
	cfg  *config.Config
	log  *slog.Logger
	poll time.Duration
	base string
	ver  string
	now  func() time.Time
	jit  func(time.Duration) time.Duration
	hc   *http.Client

	wake chan struct{} // new work for the webhook worker (a ping, a new webhook)
	mu   sync.Mutex    // serialises the dispatcher's batches with webhook changes

	siem *siem // nil without [siem] address

	whFailures  atomic.Int64 // delivery attempts that failed
	whDelivered atomic.Int64
	whGaveUp    atomic.Int64
	whPending   atomic.Int64
}

// New opens the service. On the first start it begins after the newest audit entry:
// what happened before integrations existed is not replayed.
func New(opt Options) (*Service, error) {
	if opt.DB == nil || opt.Config == nil || opt.View.Alert == nil || opt.View.Case == nil {
		return nil, errors.New("integrations: DB, Config and View are required")
	}
	s := &Service{db: opt.DB, view: opt.View, cfg: opt.Config, log: opt.Log, poll: opt.Poll, base: strings.TrimRight(opt.BaseURL, "/"),
		ver: opt.Version, now: opt.Now, jit: opt.Jitter, hc: opt.HTTPClient, wake: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.poll <= 0 {
		s.poll = time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.jit == nil {
		s.jit = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: time.Duration(opt.Config.Webhooks.TimeoutSeconds) * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if _, ok, err := s.db.OutboxDoc(store.OutboxCursor); err != nil {
		return nil, err
	} else if !ok {
		head, err := s.db.AuditHead()
		if err != nil {
			return nil, err
		}
		if err := s.db.PutOutbox([]store.Doc{{Key: store.OutboxCursor, Value: []byte(strconv.FormatUint(head.Seq, 10))}}); err != nil {
			return nil, err
		}
	}
	if opt.Config.SIEM.Address != "" {
		sm, err := newSIEM(s, opt.Config.SIEM)
		if err != nil {
			return nil, err
		}
		s.siem = sm
	}
	return s, nil
}

// Run dispatches and delivers until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if s.siem != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.siem.run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.deliverLoop(ctx) }()
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		if err := s.Dispatch(); err != nil && ctx.Err() == nil {
			s.log.Error("integrations: dispatch", "err", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Event is what a webhook receives (the JSON body) and what a SIEM line describes.
type Event struct {
	ID     string     `json:"id" doc:"Unique per event: evt-<audit entry>[-<n>]; a retried delivery has the same id."`
	Type   string     `json:"type"`
	Time   time.Time  `json:"time" doc:"When it happened (the audit entry's time)."`
	Actor  string     `json:"actor" doc:"Who did it: engine, an account, token:NAME or cli:USER."`
	Alert  *AlertInfo `json:"alert,omitempty"`
	Case   *CaseInfo  `json:"case,omitempty"`
	Change *Change    `json:"change,omitempty"`
}

// AlertInfo is an alert in an event: ids, the user (a pseudonym unless the webhook sees
// real names), and what a ticket needs; details are in the API.
type AlertInfo struct {
	ID           string    `json:"id"`
	Title        string    `json:"title"`
	User         string    `json:"user"`
	Pseudonymous bool      `json:"pseudonymous,omitempty"`
	Policy       string    `json:"policy"`
	Template     string    `json:"template"`
	Severity     string    `json:"severity"`
	Score        int       `json:"score"`
	Status       string    `json:"status"`
	RiskFactors  []string  `json:"risk_factors"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	Case         string    `json:"case,omitempty"`
	Assignee     string    `json:"assignee,omitempty"`
	URL          string    `json:"url,omitempty"`
}

// CaseInfo is a case in an event. Notes are not sent: they are free text.
type CaseInfo struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	User         string    `json:"user"`
	Pseudonymous bool      `json:"pseudonymous,omitempty"`
	Status       string    `json:"status"`
	Resolution   string    `json:"resolution,omitempty"`
	Alerts       []string  `json:"alerts"`
	Notes        int       `json:"notes"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	URL          string    `json:"url,omitempty"`
}

// Change is what a status or severity change went from and to.
type Change struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// rawEvent is an event read from the audit log, before it is shown to anyone.
type rawEvent struct {
	id, typ, subject string
	time             time.Time
	actor            string
	change           *Change
}

// eventsOf turns an audit entry into events (none for most entries).
func eventsOf(e store.AuditEntry) []rawEvent {
	ev := func(typ, subject string, ch *Change) rawEvent {
		return rawEvent{id: "evt-" + strconv.FormatUint(e.Seq, 10), typ: typ, subject: subject, time: e.Time, actor: e.Actor, change: ch}
	}
	field := func(raw json.RawMessage, name string) string {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			return ""
		}
		v, _ := m[name].(string)
		return v
	}
	switch e.Category {
	case "alerts":
		switch {
		case e.Activity == "alert created":
			return []rawEvent{ev(AlertCreated, e.Target, nil)}
		case e.Activity == "alert severity raised":
			return []rawEvent{ev(AlertSeverityRaised, e.Target, &Change{From: field(e.Before, "severity"), To: field(e.After, "severity")})}
		case e.Activity == "alert status changed":
			return []rawEvent{ev(AlertStatusChanged, e.Target, &Change{From: field(e.Before, "status"), To: field(e.After, "status")})}
		case strings.HasSuffix(e.Activity, " in bulk"):
			var after struct {
				Status string   `json:"status"`
				Alerts []string `json:"alerts"`
			}
			before := map[string]string{}
			json.Unmarshal(e.After, &after)
			json.Unmarshal(e.Before, &before)
			var out []rawEvent
			for i, id := range after.Alerts {
				r := ev(AlertStatusChanged, id, &Change{From: before[id], To: after.Status})
				r.id += "-" + strconv.Itoa(i+1)
				out = append(out, r)
			}
			return out
		}
	case "cases":
		switch e.Activity {
		case "case created":
			return []rawEvent{ev(CaseCreated, e.Target, nil)}
		case "alerts added to case":
			return []rawEvent{ev(CaseAlertsAdded, e.Target, nil)}
		case "case note added":
			return []rawEvent{ev(CaseNoteAdded, e.Target, nil)}
		case "case resolved":
			return []rawEvent{ev(CaseResolved, e.Target, &Change{From: "active", To: "closed"})}
		}
	}
	return nil
}

// show builds the event as a receiver may see it; false when the subject is hidden
// from integrations or gone.
func (s *Service) show(r rawEvent, realNames bool) (Event, bool) {
	ev := Event{ID: r.id, Type: r.typ, Time: r.time.UTC(), Actor: r.actor, Change: r.change}
	if strings.HasPrefix(r.typ, "alert.") {
		a, ok := s.view.Alert(r.subject, realNames)
		if !ok {
			return ev, false
		}
		ev.Alert = &AlertInfo{ID: a.ID, Title: a.Title, User: a.User, Pseudonymous: a.Pseudonymous, Policy: a.Policy, Template: a.Template,
			Severity: a.Severity, Score: a.Score, Status: a.Status, RiskFactors: a.RiskFactors, Created: a.Created.UTC(), Updated: a.Updated.UTC(),
			Case: a.Case, Assignee: a.Assignee}
		if ev.Alert.RiskFactors == nil {
			ev.Alert.RiskFactors = []string{}
		}
		if s.base != "" {
			ev.Alert.URL = s.base + "/alerts/" + a.ID
		}
		return ev, true
	}
	if strings.HasPrefix(r.typ, "case.") {
		c, ok := s.view.Case(r.subject, realNames)
		if !ok {
			return ev, false
		}
		ev.Case = &CaseInfo{ID: c.ID, Name: c.Name, User: c.User, Pseudonymous: c.User != "" && strings.HasPrefix(c.User, "Anon-"),
			Status: c.Status, Resolution: c.Resolution, Alerts: c.Alerts, Notes: len(c.Notes), Created: c.Created.UTC(), Updated: c.Updated.UTC()}
		if ev.Case.Alerts == nil {
			ev.Case.Alerts = []string{}
		}
		if s.base != "" {
			ev.Case.URL = s.base + "/cases/" + c.ID
		}
		return ev, true
	}
	return ev, true
}

// dispatchBatch bounds the audit entries one batch turns into deliveries.
const dispatchBatch = 500

// Dispatch turns the audit entries after the cursor into deliveries and SIEM lines,
// written with the moved cursor in one synced batch. Run calls it every Poll; tests
// may call it directly.
func (s *Service) Dispatch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		raw, _, err := s.db.OutboxDoc(store.OutboxCursor)
		if err != nil {
			return err
		}
		cursor, _ := strconv.ParseUint(string(raw), 10, 64)
		head, err := s.db.AuditHead()
		if err != nil {
			return err
		}
		if head.Seq < cursor {
			// A restore put an older log in place: go on from its head.
			s.log.Warn("integrations: the audit log is older than the cursor (a restore?); continuing from its head", "cursor", cursor, "head", head.Seq)
			return s.db.PutOutbox([]store.Doc{{Key: store.OutboxCursor, Value: []byte(strconv.FormatUint(head.Seq, 10))}})
		}
		if head.Seq == cursor {
			return nil
		}
		hooks, err := s.hooks()
		if err != nil {
			return err
		}
		var docs []store.Doc
		var lines []string
		last := cursor
		err = s.db.AuditAfter(cursor, dispatchBatch, func(e store.AuditEntry) error {
			last = e.Seq
			for _, r := range eventsOf(e) {
				for _, h := range hooks {
					if !h.wants(r.typ) {
						continue
					}
					ev, ok := s.show(r, h.RealNames)
					if !ok {
						continue
					}
					d, err := s.newDelivery(h, ev)
					if err != nil {
						return err
					}
					docs = append(docs, d)
				}
				if s.siem != nil && strings.HasPrefix(r.typ, "alert.") {
					if ev, ok := s.show(r, s.cfg.SIEM.RealNames); ok {
						lines = append(lines, s.siem.message(ev))
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		docs = append(docs, store.Doc{Key: store.OutboxCursor, Value: []byte(strconv.FormatUint(last, 10))})
		if s.siem != nil {
			if err := s.siem.enqueue(docs, lines, last); err != nil {
				return err
			}
		} else if err := s.db.PutOutbox(docs); err != nil {
			return err
		}
		if len(docs) > 1 {
			s.poke()
		}
		if last == head.Seq {
			return nil
		}
	}
}

// Stats are the counters behind /metrics.
type Stats struct {
	WebhookFailures  int64 // delivery attempts that failed (non-2xx, refused, timed out)
	WebhookDelivered int64
	WebhookGaveUp    int64
	WebhookPending   int64 // deliveries waiting for their first try or a retry
	SIEMSent         int64
	SIEMFailures     int64 // connection or write failures
	SIEMDropped      int64 // lines dropped because the queue was full
	SIEMQueue        int64 // lines waiting
}

// Stats returns the counters (since this process started; the gauges as they are).
func (s *Service) Stats() Stats {
	st := Stats{WebhookFailures: s.whFailures.Load(), WebhookDelivered: s.whDelivered.Load(), WebhookGaveUp: s.whGaveUp.Load(),
		WebhookPending: s.whPending.Load()}
	if s.siem != nil {
		st.SIEMSent, st.SIEMFailures, st.SIEMDropped, st.SIEMQueue = s.siem.sent.Load(), s.siem.failures.Load(), s.siem.dropped.Load(), s.siem.depth.Load()
	}
	return st
}

// SIEMEnabled reports whether [siem] address is set.
func (s *Service) SIEMEnabled() bool { return s.siem != nil }

func (s *Service) audit(actor, activity, target string, before, after any, details string) error {
	if _, err := s.db.Audit(actor, "settings", activity, target, before, after, details); err != nil {
		return fmt.Errorf("audit %s: %w", activity, err)
	}
	return nil
}
