package ui

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"irm/store"
)

const auditPageSize = 50

// auditQuery is the audit page's filter as the user typed it (dates as yyyy-mm-dd, UTC).
type auditQuery struct {
	Category, Actor, From, To, Text string
	Page                            int
}

func parseAuditQuery(q url.Values) (auditQuery, store.AuditFilter, error) {
	aq := auditQuery{
		Category: q.Get("category"), Actor: strings.TrimSpace(q.Get("actor")),
		From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")), Text: strings.TrimSpace(q.Get("q")),
	}
	aq.Page, _ = strconv.Atoi(q.Get("page"))
	aq.Page = max(aq.Page, 1)
	f := store.AuditFilter{Category: aq.Category, Actor: aq.Actor, Text: aq.Text}
	if aq.Category != "" && !contains(store.AuditCategories, aq.Category) {
		return aq, f, fmt.Errorf("unknown category %q", aq.Category)
	}
	if aq.From != "" {
		t, err := time.Parse("2006-01-02", aq.From)
		if err != nil {
			return aq, f, fmt.Errorf("from: %q is not a date (yyyy-mm-dd)", aq.From)
		}
		f.Since = t
	}
	if aq.To != "" {
		t, err := time.Parse("2006-01-02", aq.To)
		if err != nil {
			return aq, f, fmt.Errorf("to: %q is not a date (yyyy-mm-dd)", aq.To)
		}
		f.Until = t.AddDate(0, 0, 1) // the whole "to" day
	}
	return aq, f, nil
}

// values returns the filter as query parameters (for pager and export links).
func (aq auditQuery) values(page int) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"category": aq.Category, "actor": aq.Actor, "from": aq.From, "to": aq.To, "q": aq.Text} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v
}

func (aq auditQuery) link(path string, page int) string {
	if e := aq.values(page).Encode(); e != "" {
		return path + "?" + e
	}
	return path
}

type auditView struct {
	Q          auditQuery
	Entries    []store.AuditEntry
	More       bool
	Error      string
	Categories []string
}

func (s *server) showAudit(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	aq, f, err := parseAuditQuery(r.URL.Query())
	v := auditView{Q: aq, Categories: store.AuditCategories}
	status := http.StatusOK
	if err != nil {
		v.Error, status = err.Error(), http.StatusBadRequest
	} else {
		f.Offset, f.Limit = (aq.Page-1)*auditPageSize, auditPageSize+1
		err = s.db.AuditEntries(f, func(e store.AuditEntry) error {
			v.Entries = append(v.Entries, e)
			return nil
		})
		if err != nil {
			s.serverError(w, r, c, err)
			return
		}
		if len(v.Entries) > auditPageSize {
			v.Entries, v.More = v.Entries[:auditPageSize], true
		}
	}
	w.Header().Set("Vary", "HX-Request")
	s.render(w, r, status, auditPage(s.page(r, c, "Audit log"), v))
}

// exportAudit streams the filtered log as CSV. The export is itself audited, before
// the data leaves, with the filter and the number of rows.
func (s *server) exportAudit(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	aq, f, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	var entries []store.AuditEntry
	if err := s.db.AuditEntries(f, func(e store.AuditEntry) error { entries = append(entries, e); return nil }); err != nil {
		s.serverError(w, r, c, err)
		return
	}
	filter := aq.values(0).Encode()
	if filter == "" {
		filter = "no filter"
	}
	s.audit(c.Account.Name, "export", "Exported audit log", "audit log", nil, nil, fmt.Sprintf("%d entries; %s", len(entries), filter))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="irm-audit-%s.csv"`, s.now().UTC().Format("20060102-150405")))
	cw := csv.NewWriter(w)
	cw.Write([]string{"Seq", "Date", "Activity performed by", "Category", "Activity", "Target", "Details", "Before", "After", "Hash"})
	for _, e := range entries {
		cw.Write([]string{strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339), cell(e.Actor), cell(e.Category),
			cell(e.Activity), cell(e.Target), cell(e.Details), cell(string(e.Before)), cell(string(e.After)), e.Hash})
	}
	cw.Flush()
}

// cell defuses spreadsheet formulas: a value starting with = + - @ (or a tab or CR) is
// prefixed with ' so that opening the export cannot run anything a feed or user wrote.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
