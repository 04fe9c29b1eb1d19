package ui

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"irm/engine"
)

// Notice templates (/notices): investigators write the mails that cases send to users.

type noticesView struct {
	Templates    []engine.NoticeTemplate
	Form         engine.NoticeTemplate
	CC, BCC      string
	Errors       []string
	Placeholders []option
	Mail         bool
	From         string
}

func (s *server) noticesView() noticesView {
	v := noticesView{Mail: s.cfg != nil && s.cfg.SMTP.Enabled()}
	if s.cfg != nil {
		v.From = s.cfg.SMTP.From
	}
	for k, d := range engine.NoticePlaceholders {
		v.Placeholders = append(v.Placeholders, option{k, d})
	}
	sort.Slice(v.Placeholders, func(i, j int) bool { return v.Placeholders[i].Value < v.Placeholders[j].Value })
	return v
}

func (s *server) showNotices(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	v := s.noticesView()
	var err error
	if v.Templates, err = s.eng.NoticeTemplates(); err != nil {
		s.serverError(w, r, c, err)
		return
	}
	if name := r.URL.Query().Get("edit"); name != "" {
		if i := slices.IndexFunc(v.Templates, func(t engine.NoticeTemplate) bool { return t.Name == name }); i >= 0 {
			v.Form = v.Templates[i]
			v.CC, v.BCC = joinLines(v.Form.CC), joinLines(v.Form.BCC)
		}
	}
	s.render(w, r, http.StatusOK, noticesPage(s.page(r, c, "Notice templates"), v))
}

func (s *server) saveNotice(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	t := engine.NoticeTemplate{Name: r.PostFormValue("name"), From: r.PostFormValue("from"), CC: lines(r.PostFormValue("cc")),
		BCC: lines(r.PostFormValue("bcc")), Subject: r.PostFormValue("subject"), Body: r.PostFormValue("body")}
	if err := s.eng.SaveNoticeTemplate(c.Account.Name, t); err != nil {
		v := s.noticesView()
		v.Templates, _ = s.eng.NoticeTemplates()
		v.Form, v.CC, v.BCC = t, r.PostFormValue("cc"), r.PostFormValue("bcc")
		v.Errors = splitErrors(err)
		s.render(w, r, http.StatusBadRequest, noticesPage(s.page(r, c, "Notice templates"), v))
		return
	}
	s.redirectFlash(w, r, c, "/notices", "Template saved")
}

func (s *server) deleteNotice(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.eng.DeleteNoticeTemplate(c.Account.Name, r.PathValue("name")); err != nil {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Not found"), http.StatusNotFound, err.Error()))
		return
	}
	s.redirectFlash(w, r, c, "/notices", "Template deleted")
}

// splitErrors lists the lines of a joined error.
func splitErrors(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
