package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	netmail "net/mail"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"irm/config"
	"irm/store"
)

// Notices are mails to the user of a case (Purview's notice templates): an investigator
// picks a template, the engine fills in the placeholders and sends it over the [smtp]
// server of the config, then records it on the case and in the audit log (category
// "notices"). Messages are built and sent by github.com/wneessen/go-mail (MIME,
// encodings, STARTTLS and authentication), not by hand.

// NoticeTemplate is a reusable notice.
type NoticeTemplate struct {
	Name      string    `json:"name"`
	From      string    `json:"from,omitempty"` // "" = [smtp] from
	CC        []string  `json:"cc,omitempty"`
	BCC       []string  `json:"bcc,omitempty"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	Updated   time.Time `json:"updated"`
	UpdatedBy string    `json:"updated_by"`
}

// NoticeRecord is a notice sent from a case.
type NoticeRecord struct {
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Template  string    `json:"template"`
	To        string    `json:"to"`
	CC        []string  `json:"cc,omitempty"`
	BCC       []string  `json:"bcc,omitempty"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	MessageID string    `json:"message_id"`
}

// NoticePlaceholders are the placeholders a template may use, with what they become.
var NoticePlaceholders = map[string]string{
	"{{user_name}}":     "the user's name (from the UPN: ann.smith@… gives Ann Smith)",
	"{{user_email}}":    "the user's address (UPN)",
	"{{case_id}}":       "the case id",
	"{{case_name}}":     "the case name",
	"{{manager_name}}":  "the user's manager's name (HR feed), or \"your manager\"",
	"{{manager_email}}": "the manager's address (HR feed), or empty",
}

var placeholderRE = regexp.MustCompile(`\{\{[^{}]*\}\}`)

const (
	noticeKeyPrefix = "notice/" // engine state key of a template: eng/notice/<name>
	maxNoticeName   = 100
	maxNoticeBody   = 32 << 10
	maxNoticeCopies = 20
)

func (t *NoticeTemplate) normalize() {
	t.Name = strings.TrimSpace(t.Name)
	t.From = strings.TrimSpace(t.From)
	t.Subject = strings.TrimSpace(t.Subject)
	t.Body = strings.ReplaceAll(t.Body, "\r\n", "\n")
	clean := func(xs []string) []string {
		var out []string
		for _, x := range xs {
			if x = strings.TrimSpace(x); x != "" && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		return out
	}
	t.CC, t.BCC = clean(t.CC), clean(t.BCC)
}

// Validate names every problem of the template at once.
func (t *NoticeTemplate) Validate() error {
	var errs []error
	if t.Name == "" || len(t.Name) > maxNoticeName || strings.ContainsAny(t.Name, "/\x00\n") {
		errs = append(errs, fmt.Errorf("name: 1 to %d characters, no / or line breaks", maxNoticeName))
	}
	if t.From != "" {
		if _, err := netmail.ParseAddress(t.From); err != nil {
			errs = append(errs, fmt.Errorf("sender %q: not a mail address", t.From))
		}
	}
	for _, list := range []struct {
		what  string
		addrs []string
	}{{"cc", t.CC}, {"bcc", t.BCC}} {
		if len(list.addrs) > maxNoticeCopies {
			errs = append(errs, fmt.Errorf("%s: at most %d addresses", list.what, maxNoticeCopies))
		}
		for _, a := range list.addrs {
			if _, err := netmail.ParseAddress(a); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: not a mail address", list.what, a))
			}
		}
	}
	if t.Subject == "" || strings.ContainsAny(t.Subject, "\r\n") || len(t.Subject) > 500 {
		errs = append(errs, errors.New("subject: required, one line, at most 500 characters"))
	}
	if strings.TrimSpace(t.Body) == "" || len(t.Body) > maxNoticeBody {
		errs = append(errs, fmt.Errorf("body: required, at most %d bytes", maxNoticeBody))
	}
	for _, text := range []string{t.Subject, t.Body} {
		for _, ph := range placeholderRE.FindAllString(text, -1) {
			if _, ok := NoticePlaceholders[ph]; !ok {
				errs = append(errs, fmt.Errorf("unknown placeholder %s (known: %s)", ph, strings.Join(placeholderNames(), ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

func placeholderNames() []string {
	var out []string
	for k := range NoticePlaceholders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NoticeTemplates returns the templates by name.
func (e *Engine) NoticeTemplates() ([]NoticeTemplate, error) {
	var out []NoticeTemplate
	err := e.db.EngineStates(noticeKeyPrefix, func(name string, val []byte) error {
		var t NoticeTemplate
		if err := json.Unmarshal(val, &t); err != nil {
			return fmt.Errorf("stored notice template %s: %w", name, err)
		}
		out = append(out, t)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// NoticeTemplate returns one template.
func (e *Engine) NoticeTemplate(name string) (NoticeTemplate, bool, error) {
	val, ok, err := e.db.EngineState(noticeKeyPrefix + name)
	if err != nil || !ok {
		return NoticeTemplate{}, false, err
	}
	var t NoticeTemplate
	if err := json.Unmarshal(val, &t); err != nil {
		return NoticeTemplate{}, false, fmt.Errorf("stored notice template %s: %w", name, err)
	}
	return t, true, nil
}

// SaveNoticeTemplate creates or replaces a template, audited under "notices".
func (e *Engine) SaveNoticeTemplate(actor string, t NoticeTemplate) error {
	t.normalize()
	if err := t.Validate(); err != nil {
		return err
	}
	before, existed, err := e.NoticeTemplate(t.Name)
	if err != nil {
		return err
	}
	t.Updated, t.UpdatedBy = e.now(), actor
	val, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := e.db.PutDocs([]store.Doc{{Key: "eng/" + noticeKeyPrefix + t.Name, Value: val}}); err != nil {
		return err
	}
	activity, prev := "notice template created", any(nil)
	if existed {
		activity, prev = "notice template changed", before
	}
	e.audit(actor, "notices", activity, t.Name, prev, t, "")
	return nil
}

// DeleteNoticeTemplate removes a template; notices sent with it stay on their cases.
func (e *Engine) DeleteNoticeTemplate(actor, name string) error {
	t, ok, err := e.NoticeTemplate(name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("notice template %q: not found", name)
	}
	if err := e.db.PutDocs([]store.Doc{{Key: "eng/" + noticeKeyPrefix + name}}); err != nil {
		return err
	}
	e.audit(actor, "notices", "notice template deleted", name, t, nil, "")
	return nil
}

// NameFromUPN makes a display name of a UPN's local part: ann.smith@contoso.com gives
// "Ann Smith" (the HR feed carries no display names).
func NameFromUPN(upn string) string {
	local, _, _ := strings.Cut(upn, "@")
	parts := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for i, p := range parts {
		p = strings.TrimRight(p, "0123456789")
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, " ")
}

// SendNotice fills the template for the case's user and sends it to them over the
// configured SMTP server, then records it on the case and in the audit log. Nothing
// is recorded when sending fails.
func (e *Engine) SendNotice(ctx context.Context, actor, caseID, template string) (NoticeRecord, error) {
	var smtpCfg config.SMTP
	if e.cfg != nil {
		smtpCfg = e.cfg.SMTP
	}
	if !smtpCfg.Enabled() {
		return NoticeRecord{}, errors.New("send notice: no mail server is configured ([smtp] host in the config file)")
	}
	t, ok, err := e.NoticeTemplate(template)
	if err != nil {
		return NoticeRecord{}, err
	}
	if !ok {
		return NoticeRecord{}, fmt.Errorf("send notice: template %q not found", template)
	}
	c, ok := e.Case(caseID)
	if !ok {
		return NoticeRecord{}, fmt.Errorf("send notice: case %s not found", caseID)
	}
	if c.Status == "closed" {
		return NoticeRecord{}, fmt.Errorf("send notice: case %s is closed", caseID)
	}
	prof, _, err := e.db.Profile(c.User)
	if err != nil {
		return NoticeRecord{}, err
	}
	manager, managerMail := "your manager", ""
	if prof.Manager != "" {
		manager, managerMail = NameFromUPN(prof.Manager), prof.Manager
	}
	fill := strings.NewReplacer("{{user_name}}", NameFromUPN(c.User), "{{user_email}}", c.User, "{{case_id}}", c.ID,
		"{{case_name}}", c.Name, "{{manager_name}}", manager, "{{manager_email}}", managerMail)
	from := cmpOr(t.From, smtpCfg.From)
	if from == "" {
		return NoticeRecord{}, fmt.Errorf("send notice: template %q names no sender and [smtp] from is empty", t.Name)
	}
	rec := NoticeRecord{Actor: actor, Template: t.Name, To: c.User, CC: t.CC, BCC: t.BCC,
		Subject: fill.Replace(t.Subject), Body: fill.Replace(t.Body)}

	m := mail.NewMsg()
	if err := m.From(from); err != nil {
		return NoticeRecord{}, fmt.Errorf("send notice: sender %q: %w", from, err)
	}
	if err := m.To(c.User); err != nil {
		return NoticeRecord{}, fmt.Errorf("send notice: the user's address: %w", err)
	}
	if len(t.CC) > 0 {
		if err := m.Cc(t.CC...); err != nil {
			return NoticeRecord{}, fmt.Errorf("send notice: cc: %w", err)
		}
	}
	if len(t.BCC) > 0 {
		if err := m.Bcc(t.BCC...); err != nil {
			return NoticeRecord{}, fmt.Errorf("send notice: bcc: %w", err)
		}
	}
	m.Subject(rec.Subject)
	m.SetBodyString(mail.TypeTextPlain, rec.Body)
	m.SetMessageID()
	m.SetDate()
	rec.MessageID = m.GetMessageID()
	if err := sendMail(ctx, smtpCfg, m); err != nil {
		e.log.Error("notice not sent", "case", caseID, "template", t.Name, "err", err)
		return NoticeRecord{}, fmt.Errorf("send notice: %w", err)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	cp, ok := e.cases[caseID]
	if !ok {
		return NoticeRecord{}, fmt.Errorf("send notice: case %s disappeared", caseID)
	}
	rec.Time = e.now()
	cp.Notices = append(cp.Notices, rec)
	cp.Updated = rec.Time
	if err := e.saveCase(cp); err != nil {
		return NoticeRecord{}, err
	}
	e.audit(actor, "notices", "notice sent", caseID, nil, rec, "template "+t.Name)
	return rec, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sendMail delivers one message through the [smtp] server.
func sendMail(ctx context.Context, s config.SMTP, m *mail.Msg) error {
	opts := []mail.Option{mail.WithPort(s.Port), mail.WithTimeout(30 * time.Second)}
	switch s.Security {
	case config.SMTPTLS:
		opts = append(opts, mail.WithSSL())
	case config.SMTPNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.User != "" {
		pw, err := s.Password()
		if err != nil {
			return err
		}
		auth := mail.SMTPAuthAutoDiscover
		if s.Security == config.SMTPNone {
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(s.User), mail.WithPassword(pw))
	}
	c, err := mail.NewClient(s.Host, opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return c.DialAndSendWithContext(ctx, m)
}
