package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"irm/dsl"
	"irm/engine"
)

// policyRow is one line of the policies list.
type policyRow struct {
	P          engine.Policy
	Health     []string
	Active     int // alerts not yet dismissed or resolved
	Confirmed  int
	UsersScope string
}

func (s *server) showPolicies(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	var rows []policyRow
	inScope := s.eng.InScope()
	for _, p := range s.eng.Policies() {
		row := policyRow{P: p, UsersScope: scopeText(p, inScope[p.Name])}
		for _, h := range s.eng.PolicyHealth(p.Name) {
			row.Health = append(row.Health, healthText(h))
		}
		counts := s.eng.AlertCountsByPolicy()[p.Name]
		row.Active, row.Confirmed = counts.Active, counts.Confirmed
		rows = append(rows, row)
	}
	s.render(w, r, http.StatusOK, policiesPage(s.page(r, c, "Policies"), rows))
}

// scopeText says whom the policy covers and how many users are in scope now (triggered
// or started manually).
func scopeText(p engine.Policy, inScope int) string {
	covers := itoa(len(p.Users)) + " users or groups"
	if slices.Contains(p.Users, "*") {
		covers = "all users"
	}
	return itoa(inScope) + " in scope (of " + covers + ")"
}

// wizardView is one step of the policy wizard. The draft travels in a hidden field as
// JSON, so the wizard needs neither JavaScript nor server-side state; the engine
// validates the whole policy on submit, so a tampered draft gains nothing.
type wizardView struct {
	Step   string
	Steps  []string
	Draft  engine.Policy
	JSON   string
	Error  string
	Ch     policyChoices
	Rows   []thresholdRow
	Health []string
}

func (s *server) showWizard(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.renderWizard(w, r, c, http.StatusOK, secTemplate, engine.Policy{Template: r.URL.Query().Get("template")}, "")
}

func (s *server) renderWizard(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, step string, p engine.Policy, msg string) {
	b, _ := json.Marshal(p)
	v := wizardView{Step: step, Steps: wizardSteps(p.Template), Draft: p, JSON: string(b), Error: msg, Ch: s.policyChoices(p)}
	if step == secThresholds || step == secReview {
		v.Rows = s.thresholdRows(p)
	}
	s.render(w, r, status, wizardPage(s.page(r, c, "New policy: "+sectionTitles[step]), v))
}

func (s *server) stepWizard(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	var p engine.Policy
	if d := r.PostFormValue("draft"); d != "" {
		if err := json.Unmarshal([]byte(d), &p); err != nil {
			s.badRequest(w, r, c, "The wizard's draft is damaged; start again.")
			return
		}
	}
	step := r.PostFormValue("step")
	steps := wizardSteps(p.Template)
	if step == secTemplate {
		t := r.PostFormValue("template")
		if rs := s.ruleSet(); t != p.Template {
			name, desc := p.Name, p.Description
			var tmpl *dsl.Template
			if rs != nil {
				tmpl = rs.Template(t)
			}
			p = newPolicy(t, tmpl)
			p.Name, p.Description = name, desc
		}
		steps = wizardSteps(p.Template)
	} else {
		applySection(&p, step, r.PostForm)
	}
	i := slices.Index(steps, step)
	if i < 0 {
		s.renderWizard(w, r, c, http.StatusBadRequest, secTemplate, p, "Unknown wizard step; start again.")
		return
	}
	switch r.PostFormValue("nav") {
	case "back":
		s.renderWizard(w, r, c, http.StatusOK, steps[max(i-1, 0)], p, "")
		return
	case "create":
		if err := s.checkNewName(p.Name); err != nil {
			s.renderWizard(w, r, c, http.StatusBadRequest, secName, p, err.Error())
			return
		}
		if err := s.eng.SavePolicy(c.Account.Name, p); err != nil {
			s.renderWizard(w, r, c, http.StatusBadRequest, secReview, p, err.Error())
			return
		}
		s.redirectFlash(w, r, c, "/policies/"+url.PathEscape(p.Name), "Created policy "+p.Name)
		return
	}
	// next: check what this step can check on its own.
	switch step {
	case secTemplate:
		if p.Template == "" || (s.ruleSet() != nil && s.ruleSet().Template(p.Template) == nil) {
			s.renderWizard(w, r, c, http.StatusBadRequest, step, p, "Choose a template.")
			return
		}
	case secName:
		if err := s.checkNewName(p.Name); err != nil {
			s.renderWizard(w, r, c, http.StatusBadRequest, step, p, err.Error())
			return
		}
	}
	s.renderWizard(w, r, c, http.StatusOK, steps[min(i+1, len(steps)-1)], p, "")
}

// checkNewName refuses an empty name or one in use: saving would replace that policy,
// and a policy's name never changes. "new" and "scoring" are pages under /policies/,
// so a policy of that name could not be opened.
func (s *server) checkNewName(name string) error {
	if name == "" {
		return errors.New("a policy needs a name")
	}
	if name == "new" || name == "scoring" {
		return errors.New("a policy cannot be named " + name + ": /policies/" + name + " is a page of its own")
	}
	if _, ok := s.eng.Policy(name); ok {
		return errors.New("a policy named " + name + " already exists; names cannot be reused or changed")
	}
	return nil
}

// editSections are the sections of the edit page for a template.
func editSections(template string) []string {
	var out []string
	for _, sec := range wizardSteps(template) {
		if sec != secTemplate && sec != secReview {
			out = append(out, sec)
		}
	}
	return out
}

type policyView struct {
	P        engine.Policy
	Sections []string
	Ch       policyChoices
	Rows     []thresholdRow
	Health   []string
	Error    string
}

func (s *server) showPolicy(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	p, ok := s.eng.Policy(r.PathValue("name"))
	if !ok {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Policy not found"), http.StatusNotFound, "There is no policy with that name."))
		return
	}
	s.renderPolicy(w, r, c, http.StatusOK, p, "")
}

func (s *server) renderPolicy(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, p engine.Policy, msg string) {
	v := policyView{P: p, Sections: editSections(p.Template), Ch: s.policyChoices(p), Rows: s.thresholdRows(p), Error: msg}
	for _, h := range s.eng.PolicyHealth(p.Name) {
		v.Health = append(v.Health, healthText(h))
	}
	s.render(w, r, status, policyPage(s.page(r, c, "Policy: "+p.Name), v))
}

func (s *server) savePolicy(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	p, ok := s.eng.Policy(r.PathValue("name"))
	if !ok {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Policy not found"), http.StatusNotFound, "There is no policy with that name."))
		return
	}
	allowed := editSections(p.Template)
	for _, sec := range r.PostForm["section"] {
		if slices.Contains(allowed, sec) && sec != secName {
			applySection(&p, sec, r.PostForm)
		}
	}
	if slices.Contains(r.PostForm["section"], secName) {
		// Only the description is editable; the name is the policy's identity.
		p.Description = r.PostFormValue("description")
	}
	if err := s.eng.SavePolicy(c.Account.Name, p); err != nil {
		s.renderPolicy(w, r, c, http.StatusBadRequest, p, err.Error())
		return
	}
	s.redirectFlash(w, r, c, "/policies/"+url.PathEscape(p.Name), "Saved")
}

func (s *server) deletePolicy(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("name")
	if _, ok := s.eng.Policy(name); !ok {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Policy not found"), http.StatusNotFound, "There is no policy with that name."))
		return
	}
	if err := s.eng.DeletePolicy(c.Account.Name, name); err != nil {
		s.serverError(w, r, c, err)
		return
	}
	s.redirectFlash(w, r, c, "/policies", "Deleted policy "+name+"; its alerts are kept")
}

func healthText(h engine.HealthWarning) string { return h.Message }
