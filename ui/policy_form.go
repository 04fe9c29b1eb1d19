package ui

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"irm/dsl"
	"irm/engine"
)

// Policy form sections, in wizard order. The edit page shows every section but the
// first two (template and name cannot change); the wizard shows one per step.
const (
	secTemplate   = "template"
	secName       = "name"
	secUsers      = "users"
	secContent    = "content"
	secTriggers   = "triggers"
	secIndicators = "indicators"
	secThresholds = "thresholds"
	secReview     = "review"
)

var sectionTitles = map[string]string{
	secTemplate: "Template", secName: "Name and description", secUsers: "Users and groups",
	secContent: "Priority content", secTriggers: "Triggers", secIndicators: "Indicators and detections",
	secThresholds: "Thresholds", secReview: "Review",
}

// dataLeak reports whether the template takes custom triggers (engine rule).
func dataLeak(template string) bool {
	return template == "data_leaks" || template == "data_leaks_priority"
}

// wizardSteps lists the steps for a template: triggers only for the data-leak templates.
func wizardSteps(template string) []string {
	steps := []string{secTemplate, secName, secUsers, secContent}
	if dataLeak(template) {
		steps = append(steps, secTriggers)
	}
	return append(steps, secIndicators, secThresholds, secReview)
}

// policyChoices are what the rule set offers a policy form.
type policyChoices struct {
	Templates  []*dsl.Template
	Indicators []indicatorChoice // globally enabled indicators
	Exfil      []indicatorChoice // enabled exfiltration indicators (trigger choices)
	Sequences  []*dsl.Sequence
	Groups     []string // priority group names from settings
	Template   *dsl.Template
}

func (s *server) policyChoices(p engine.Policy) policyChoices {
	var ch policyChoices
	st := s.eng.Settings()
	for _, g := range st.PriorityGroups {
		ch.Groups = append(ch.Groups, g.Name)
	}
	rs := s.ruleSet()
	if rs == nil {
		return ch
	}
	ch.Templates = rs.Templates()
	ch.Template = rs.Template(p.Template)
	ch.Sequences = rs.Sequences()
	enabled := func(id string) bool { return len(st.Indicators) == 0 || slices.Contains(st.Indicators, id) }
	for _, ind := range s.indicatorChoices(func(id string) bool { return extraIndicator(p, id) }) {
		if !enabled(ind.ID) && !ind.On {
			continue
		}
		ch.Indicators = append(ch.Indicators, ind)
		if ind.Category == "exfiltration" {
			ind.On = slices.Contains(p.Triggers.Indicators, ind.ID)
			ch.Exfil = append(ch.Exfil, ind)
		}
	}
	return ch
}

// policyIndicators expands the "template" token: the indicator ids a policy scores.
func policyIndicators(p engine.Policy, t *dsl.Template) []string {
	var out []string
	for _, id := range p.Indicators {
		if id == engine.TemplateToken {
			if t != nil {
				for _, tid := range t.Indicators {
					if !slices.Contains(out, tid) {
						out = append(out, tid)
					}
				}
			}
			continue
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// newPolicy is the draft the wizard starts from: the engine's import defaults.
func newPolicy(template string, t *dsl.Template) engine.Policy {
	p := engine.Policy{
		Template: template, Users: []string{"*"}, Indicators: []string{engine.TemplateToken},
		Sequences: []string{}, Enabled: true,
		Boosters: engine.Boosters{AboveUsual: true, PreviousCase: true, PriorityUser: true},
	}
	if t != nil {
		if len(t.Sequences) > 0 {
			p.Sequences = []string{engine.TemplateToken}
		}
		p.Cumulative = t.Cumulative
	}
	return p
}

// applySection reads one section of the policy form into p. Only sections that were on
// the submitted form are applied, so an unticked box means "off" and not "not shown".
func applySection(p *engine.Policy, sec string, f url.Values) {
	switch sec {
	case secName:
		p.Name = strings.TrimSpace(f.Get("name"))
		p.Description = strings.TrimSpace(f.Get("description"))
	case secUsers:
		if f.Get("users_mode") == "all" {
			p.Users = []string{"*"}
		} else {
			users := lines(f.Get("users"))
			for _, g := range f["group"] {
				if !slices.Contains(users, g) {
					users = append(users, g)
				}
			}
			p.Users = nonNil(users)
		}
	case secContent:
		pc := &p.PriorityContent
		if f.Get("content_mode") == "none" {
			*pc = engine.PriorityContent{}
			return
		}
		pc.Sites = lines(f.Get("pc_sites"))
		pc.SensitiveTypes = lines(f.Get("pc_sensitive_types"))
		pc.Labels = lines(f.Get("pc_labels"))
		pc.Extensions = lines(f.Get("pc_extensions"))
		pc.Only = f.Get("pc_only") == "on"
	case secTriggers:
		t := engine.Triggers{}
		switch f.Get("trigger_mode") {
		case "dlp":
			t.DLPPolicy = strings.TrimSpace(f.Get("dlp_policy"))
		case "indicators":
			t.Indicators = f["trigger_indicator"]
			for _, id := range t.Indicators {
				if v := strings.TrimSpace(f.Get("trigger_threshold_" + id)); v != "" {
					n, err := strconv.Atoi(v)
					if err != nil {
						n = 0 // validation reports it
					}
					if t.Thresholds == nil {
						t.Thresholds = map[string]int{}
					}
					t.Thresholds[id] = n
				}
			}
		}
		p.Triggers = t
	case secIndicators:
		var inds []string
		if f.Get("use_template") == "on" {
			inds = append(inds, engine.TemplateToken)
		}
		inds = append(inds, f["indicator"]...)
		p.Indicators = nonNil(inds)
		var seqs []string
		if f.Get("use_template_sequences") == "on" {
			seqs = append(seqs, engine.TemplateToken)
		}
		seqs = append(seqs, f["sequence"]...)
		p.Sequences = nonNil(seqs)
		p.Cumulative = f.Get("cumulative") == "on"
		p.Boosters = engine.Boosters{
			AboveUsual:   f.Get("boost_above_usual") == "on",
			PreviousCase: f.Get("boost_previous_case") == "on",
			PriorityUser: f.Get("boost_priority_user") == "on",
		}
		p.Enabled = f.Get("enabled") == "on"
	case secThresholds:
		p.Thresholds = nil
		if f.Get("thresholds_mode") != "custom" {
			return
		}
		for _, id := range f["th_id"] {
			var th []int
			blank := true
			for _, lvl := range []string{"low", "medium", "high"} {
				v := strings.TrimSpace(f.Get("th_" + id + "_" + lvl))
				if v != "" {
					blank = false
				}
				n, err := strconv.Atoi(v)
				if err != nil {
					n = 0
				}
				th = append(th, n)
			}
			if blank {
				continue
			}
			if p.Thresholds == nil {
				p.Thresholds = map[string][]int{}
			}
			p.Thresholds[id] = th
		}
	}
}

// thresholdRow is one indicator of the thresholds section: its defaults and the
// policy's custom values (if any).
type thresholdRow struct {
	ID, Name string
	Default  [3]int
	Custom   []int
}

func (s *server) thresholdRows(p engine.Policy) []thresholdRow {
	rs := s.ruleSet()
	var t *dsl.Template
	if rs != nil {
		t = rs.Template(p.Template)
	}
	var out []thresholdRow
	for _, id := range policyIndicators(p, t) {
		row := thresholdRow{ID: id, Name: id, Custom: p.Thresholds[id]}
		if rs != nil {
			if ind := rs.Indicator(id); ind != nil {
				row.Name, row.Default = ind.Name, ind.Thresholds
			}
		}
		out = append(out, row)
	}
	return out
}

func (r thresholdRow) value(i int) string {
	if len(r.Custom) == 3 {
		return strconv.Itoa(r.Custom[i])
	}
	return ""
}

func usersText(p engine.Policy, groups []string) string {
	var out []string
	for _, u := range p.Users {
		if u != "*" && !slices.Contains(groups, u) {
			out = append(out, u)
		}
	}
	return joinLines(out)
}

func allUsers(p engine.Policy) bool { return slices.Contains(p.Users, "*") }

func hasToken(list []string) bool { return slices.Contains(list, engine.TemplateToken) }

func triggerMode(t engine.Triggers) string {
	switch {
	case t.DLPPolicy != "":
		return "dlp"
	case len(t.Indicators) > 0:
		return "indicators"
	}
	return "template"
}

func triggerThreshold(t engine.Triggers, id string) string {
	if n, ok := t.Thresholds[id]; ok {
		return strconv.Itoa(n)
	}
	return ""
}

func contentEmpty(pc engine.PriorityContent) bool {
	return len(pc.Sites)+len(pc.SensitiveTypes)+len(pc.Labels)+len(pc.Extensions) == 0 && !pc.Only
}

// extraIndicator reports whether id is in the policy by itself (not only through the
// template token).
func extraIndicator(p engine.Policy, id string) bool { return slices.Contains(p.Indicators, id) }
