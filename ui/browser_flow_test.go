package ui

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"irm/account"
	"irm/config"
	"irm/engine"
	"irm/store"
)

// mailbox is an SMTP server on loopback (github.com/emersion/go-smtp) that keeps what
// it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []receivedMail
}

type receivedMail struct {
	From string
	To   []string
	Data []byte
}

func (mb *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }

type mailSession struct {
	mb   *mailbox
	from string
	to   []string
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, receivedMail{From: s.from, To: s.to, Data: b})
	s.mb.mu.Unlock()
	return nil
}

func (mb *mailbox) received() []receivedMail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return slices.Clone(mb.msgs)
}

// startMailbox serves SMTP on a loopback port.
func startMailbox(t *testing.T) (*mailbox, int) {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return mb, ln.Addr().(*net.TCPAddr).Port
}

// shot saves a screenshot of the viewport for the docs: into docs/img when
// IRM_UPDATE_SCREENSHOTS=1 (then commit them), else into the artifact directory.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	dir := b.dir
	if os.Getenv("IRM_UPDATE_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "docs", "img")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// waitLocation waits until the tab's URL contains want, and returns it.
func (b *browser) waitLocation(step, want string) string {
	b.t.Helper()
	var loc string
	for range 150 {
		loc, _ = chromedp.Run(b.ctx, chromedp.Location())
		if strings.Contains(loc, want) {
			return loc
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.fail(step, &textError{sel: "location", want: want, got: loc})
	return ""
}

// TestBrowserInvestigationFlow drives chromium through an investigation over the demo
// organisation: an analyst opens a planted user's alert, reads the summary, filters
// the activity explorer and confirms the alert into a new case; an investigator adds a
// note, opens the content explorer, writes a notice template, sends the notice (which
// an SMTP server on loopback receives) and resolves the case. Every step is in the
// audit log. The test takes the screenshots of docs/ui.md.
func TestBrowserInvestigationFlow(t *testing.T) {
	env, m := newDemoEnv(t)
	mb, port := startMailbox(t)
	env.srv.cfg.SMTP = config.SMTP{Host: "127.0.0.1", Port: port, Security: config.SMTPNone, From: "Insider Risk <irm@contoso.com>"}
	var upn string
	for _, p := range m.Planted {
		if p.Template == "data_theft_departing" {
			upn = p.User
			break
		}
	}
	page, err := env.eng.QueryAlerts(engine.AlertQuery{AlertFilter: engine.AlertFilter{User: upn}, Sort: engine.SortScore})
	if err != nil || page.Total == 0 {
		t.Fatalf("no alert for the planted user %s: %v", upn, err)
	}
	alertID := page.Alerts[0].ID
	pseudo := account.Pseudonym(env.srv.pseudo, upn)
	b := newBrowser(t, env)

	// The analyst: queue, alert, explorer, confirm into a case.
	b.signIn(account.RoleAnalyst)
	b.do("queue", chromedp.Navigate(env.ts.URL+"/alerts?status=needs_review&sort=score"), chromedp.WaitVisible(`[data-testid="alerts"]`))
	if q := b.text("queue", `[data-testid="alerts"]`); !strings.Contains(q, pseudo) || strings.Contains(q, upn) {
		t.Errorf("queue: want %s and not the UPN", pseudo)
	}
	b.shot("queue")
	b.do("open alert", chromedp.Navigate(env.ts.URL+"/alerts/"+alertID), chromedp.WaitVisible(`[data-testid="summary"]`))
	summary := b.text("summary", `[data-testid="summary"]`)
	for _, want := range []string{pseudo, "score", "Strongest evidence", "In scope since"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q: %s", want, summary)
		}
	}
	b.shot("alert")
	cats, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#x-category option')].map(o => o.value).filter(v => v)`))
	if err != nil || len(cats) == 0 {
		t.Fatalf("explorer categories: %v %v", cats, err)
	}
	b.do("filter explorer", chromedp.SetValue("#x-category", cats[0]), chromedp.Click("#x-apply"))
	b.waitLocation("filtered explorer", "category="+cats[0])
	// Every event listed now is of the chosen category.
	filtered, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#x-category').value`))
	if err != nil || filtered != cats[0] {
		t.Errorf("explorer filter shows %q, want %q (%v)", filtered, cats[0], err)
	}
	b.do("confirm into a new case",
		chromedp.SendKeys("#case-name", "USB copies before leaving"),
		chromedp.Click("#confirm-case"),
		chromedp.WaitVisible(`[data-testid="case-summary"]`))
	loc := b.waitLocation("case page", "/cases/C")
	caseID := loc[strings.LastIndex(loc, "/")+1:]
	if cs, ok := env.eng.Case(caseID); !ok || cs.User != upn || !slices.Contains(cs.Alerts, alertID) {
		t.Fatalf("case %s after confirming: %+v", caseID, cs)
	}
	b.signOut()

	// The investigator: note, content explorer, notice template, notice, resolution.
	b.signIn(account.RoleInvestigator)
	b.do("case", chromedp.Navigate(env.ts.URL+"/cases/"+caseID), chromedp.WaitVisible("#note-text"))
	b.do("note", chromedp.SendKeys("#note-text", "Manager confirms the files are not needed for the handover."), chromedp.Click("#add-note"),
		chromedp.WaitVisible(`[data-testid="flash"]`))
	if notes := b.text("notes", `[data-testid="notes"]`); !strings.Contains(notes, "Manager confirms") || !strings.Contains(notes, account.RoleInvestigator) {
		t.Errorf("notes: %q", notes)
	}
	b.do("content explorer", chromedp.Click("#open-content"), chromedp.WaitVisible(`[data-testid="content-explorer"]`))
	if n := b.text("content", `[data-testid="explorer-count"]`); strings.HasPrefix(n, "0 of") {
		t.Errorf("content explorer is empty: %q", n)
	}
	b.do("notice template", chromedp.Navigate(env.ts.URL+"/notices"), chromedp.WaitVisible("#notice-name"),
		chromedp.SendKeys("#notice-name", "Data handling reminder"),
		chromedp.SendKeys("#notice-subject", "About case {{case_id}}"),
		chromedp.SendKeys("#notice-body", "Dear {{user_name}},\nplease return company files to {{manager_name}}."),
		chromedp.Click("#save-notice"), chromedp.WaitVisible(`[data-testid="flash"]`))
	b.do("send notice", chromedp.Navigate(env.ts.URL+"/cases/"+caseID), chromedp.WaitVisible("#send-notice"),
		chromedp.Click("#send-notice"), chromedp.WaitVisible(`[data-testid="flash"]`))
	if f := b.text("notice flash", `[data-testid="flash"]`); f != "Notice sent" {
		t.Fatalf("after sending: %q", f)
	}
	msgs := mb.received()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != upn || msgs[0].From != "irm@contoso.com" {
		t.Fatalf("SMTP server received %+v", msgs)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	bodyText, _ := io.ReadAll(msg.Body)
	if msg.Header.Get("Subject") != "About case "+caseID || !strings.Contains(string(bodyText), engine.NameFromUPN(upn)) {
		t.Fatalf("notice: subject %q body %q", msg.Header.Get("Subject"), bodyText)
	}
	b.shot("case")
	b.do("user page", chromedp.Navigate(env.ts.URL+"/users/"+pseudo+"?range=6m"), chromedp.WaitVisible(`[data-testid="timeline"]`))
	b.shot("user")
	b.do("resolve", chromedp.Navigate(env.ts.URL+"/cases/"+caseID), chromedp.WaitVisible("#resolve-case"),
		chromedp.SetValue("#resolution", engine.ResolutionViolation), chromedp.SendKeys("#action-taken", "Access revoked; files recovered"),
		chromedp.Click("#resolve-case"), chromedp.WaitVisible(`[data-testid="flash"]`))
	if st := b.text("case status", `[data-testid="case-status"]`); st != "closed" {
		t.Errorf("case status after resolving: %q", st)
	}
	b.signOut()

	// Every step is in the audit log, with who did it.
	want := []struct{ actor, category, activity, target string }{
		{account.RoleAnalyst, "alerts", "alert viewed", alertID},
		{account.RoleAnalyst, "alerts", "alert status changed", alertID},
		{account.RoleAnalyst, "cases", "case created", caseID},
		{account.RoleInvestigator, "cases", "case note added", caseID},
		{account.RoleInvestigator, "cases", "case content viewed", caseID},
		{account.RoleInvestigator, "notices", "notice template created", "Data handling reminder"},
		{account.RoleInvestigator, "notices", "notice sent", caseID},
		{account.RoleInvestigator, "cases", "case resolved", caseID},
		{account.RoleInvestigator, "alerts", "alert status changed", alertID},
	}
	var got []store.AuditEntry
	env.db.AuditEntries(store.AuditFilter{}, func(e store.AuditEntry) error { got = append(got, e); return nil })
	// Filtering the explorer is a view of the alert with the filter.
	if !slices.ContainsFunc(got, func(e store.AuditEntry) bool {
		return e.Actor == account.RoleAnalyst && e.Activity == "alert viewed" && strings.Contains(e.Details, "category="+cats[0])
	}) {
		t.Error("audit log lacks the analyst's filtered view of the explorer")
	}
	if !slices.ContainsFunc(got, func(e store.AuditEntry) bool {
		return e.Actor == account.RoleInvestigator && e.Activity == "user activity viewed" && e.Target == upn
	}) {
		t.Error("audit log lacks the investigator's view of the user page")
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e store.AuditEntry) bool {
			return e.Actor == w.actor && e.Category == w.category && e.Activity == w.activity && e.Target == w.target
		}) {
			t.Errorf("audit log lacks %s / %s / %s by %s", w.category, w.activity, w.target, w.actor)
		}
	}
}
