package engine

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"irm/dsl"
)

// TemplateToken in a policy's indicator or sequence list stands for all of the
// template's defaults.
const TemplateToken = "template"

// Policy says whom to score, after which triggers, with which indicators.
type Policy struct {
	Name        string `toml:"name" json:"name"` // unique, immutable
	Description string `toml:"description,omitempty" json:"description,omitempty"`
	Template    string `toml:"template" json:"template"` // immutable
	// Users are "*", UPNs and priority group names.
	Users           []string         `toml:"users" json:"users"`
	PriorityContent PriorityContent  `toml:"priority_content" json:"priority_content"`
	Triggers        Triggers         `toml:"triggers" json:"triggers"`
	Indicators      []string         `toml:"indicators" json:"indicators"`
	Thresholds      map[string][]int `toml:"thresholds,omitempty" json:"thresholds,omitempty"`
	// ThresholdMode overrides the settings' threshold mode for this policy ("" = the
	// settings').
	ThresholdMode string   `toml:"threshold_mode,omitempty" json:"threshold_mode,omitempty"`
	Boosters      Boosters `toml:"boosters" json:"boosters"`
	Sequences     []string `toml:"sequences" json:"sequences"`
	Cumulative    bool     `toml:"cumulative_exfiltration" json:"cumulative_exfiltration"`
	Enabled       bool     `toml:"enabled" json:"enabled"`
}

// PriorityContent is the content a policy scores more heavily.
type PriorityContent struct {
	Sites          []string `toml:"sites,omitempty" json:"sites,omitempty"` // URL prefixes
	SensitiveTypes []string `toml:"sensitive_types,omitempty" json:"sensitive_types,omitempty"`
	Labels         []string `toml:"labels,omitempty" json:"labels,omitempty"`
	Extensions     []string `toml:"extensions,omitempty" json:"extensions,omitempty"`
	// Only scores nothing but activity that involves priority content.
	Only bool `toml:"only,omitempty" json:"only,omitempty"`
}

func (pc *PriorityContent) empty() bool {
	return len(pc.Sites)+len(pc.SensitiveTypes)+len(pc.Labels)+len(pc.Extensions) == 0
}

// Triggers customise what brings a user into scope (data-leak templates only). Empty
// means the template's built-in triggers.
type Triggers struct {
	// DLPPolicy: a High-severity match of this DLP policy is a trigger.
	DLPPolicy string `toml:"dlp_policy,omitempty" json:"dlp_policy,omitempty"`
	// Indicators: reaching the daily trigger threshold of one of these is a trigger.
	Indicators []string `toml:"indicators,omitempty" json:"indicators,omitempty"`
	// Thresholds are per-indicator daily counts that trigger (default: the indicator's
	// low threshold).
	Thresholds map[string]int `toml:"thresholds,omitempty" json:"thresholds,omitempty"`
}

func (t *Triggers) custom() bool { return t.DLPPolicy != "" || len(t.Indicators) > 0 }

// Boosters switch the risk score boosters of a policy.
type Boosters struct {
	AboveUsual   bool `toml:"above_usual_activity" json:"above_usual_activity"`
	PreviousCase bool `toml:"previous_case" json:"previous_case"`
	PriorityUser bool `toml:"priority_user" json:"priority_user"`
}

// rawPolicy has pointers where "not given" must differ from a zero value.
type rawPolicy struct {
	Name            string           `toml:"name"`
	Description     string           `toml:"description"`
	Template        string           `toml:"template"`
	Users           []string         `toml:"users"`
	PriorityContent PriorityContent  `toml:"priority_content"`
	Triggers        Triggers         `toml:"triggers"`
	Indicators      *[]string        `toml:"indicators"`
	Thresholds      map[string][]int `toml:"thresholds"`
	ThresholdMode   string           `toml:"threshold_mode"`
	Boosters        *rawBoosters     `toml:"boosters"`
	Sequences       *[]string        `toml:"sequences"`
	Cumulative      *bool            `toml:"cumulative_exfiltration"`
	Enabled         *bool            `toml:"enabled"`
}

type rawBoosters struct {
	AboveUsual   *bool `toml:"above_usual_activity"`
	PreviousCase *bool `toml:"previous_case"`
	PriorityUser *bool `toml:"priority_user"`
}

type policyFile struct {
	Policy []rawPolicy `toml:"policy"`
}

// ParsePolicies reads a policy file ([[policy]] tables) and fills in the defaults that
// depend on the template. It does not validate against settings or the rule set; the
// engine does that when saving.
func ParsePolicies(name string, data []byte, rs *dsl.RuleSet) ([]Policy, error) {
	var f policyFile
	if err := decodeStrict(name, data, &f); err != nil {
		return nil, err
	}
	if len(f.Policy) == 0 {
		return nil, fmt.Errorf("%s: no [[policy]] tables", name)
	}
	out := make([]Policy, 0, len(f.Policy))
	for _, r := range f.Policy {
		p := Policy{
			Name: strings.TrimSpace(r.Name), Description: r.Description, Template: strings.TrimSpace(r.Template),
			Users: r.Users, PriorityContent: r.PriorityContent, Triggers: r.Triggers, Thresholds: r.Thresholds,
			ThresholdMode: r.ThresholdMode,
			Indicators:    []string{TemplateToken}, Enabled: true,
			Boosters: Boosters{AboveUsual: true, PreviousCase: true, PriorityUser: true},
		}
		if r.Indicators != nil {
			p.Indicators = *r.Indicators
		}
		var tmpl *dsl.Template
		if rs != nil {
			tmpl = rs.Template(p.Template)
		}
		p.Sequences = []string{}
		if r.Sequences != nil {
			p.Sequences = *r.Sequences
		} else if tmpl != nil && len(tmpl.Sequences) > 0 {
			p.Sequences = []string{TemplateToken}
		}
		if r.Cumulative != nil {
			p.Cumulative = *r.Cumulative
		} else if tmpl != nil {
			p.Cumulative = tmpl.Cumulative
		}
		if r.Enabled != nil {
			p.Enabled = *r.Enabled
		}
		if b := r.Boosters; b != nil {
			if b.AboveUsual != nil {
				p.Boosters.AboveUsual = *b.AboveUsual
			}
			if b.PreviousCase != nil {
				p.Boosters.PreviousCase = *b.PreviousCase
			}
			if b.PriorityUser != nil {
				p.Boosters.PriorityUser = *b.PriorityUser
			}
		}
		p.normalize()
		out = append(out, p)
	}
	return out, nil
}

// FormatPolicies writes policies in the policy file format.
func FormatPolicies(ps []Policy) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# irm policies (irm policy export); import with: irm policy import FILE\n")
	if err := toml.NewEncoder(&b).Encode(struct {
		Policy []Policy `toml:"policy"`
	}{ps}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (p *Policy) normalize() {
	lower := func(xs []string, trim string) []string {
		out := []string{}
		for _, x := range xs {
			x = strings.TrimLeft(strings.TrimSpace(x), trim)
			if x != "" && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		return out
	}
	users := []string{}
	for _, u := range p.Users {
		u = strings.TrimSpace(u)
		if strings.Contains(u, "@") {
			u = strings.ToLower(u)
		}
		if u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	p.Users = users
	p.Indicators = lower(p.Indicators, "")
	p.Sequences = lower(p.Sequences, "")
	pc := &p.PriorityContent
	pc.Sites = lowerAll(lower(pc.Sites, ""))
	pc.SensitiveTypes = lowerAll(lower(pc.SensitiveTypes, ""))
	pc.Labels = lowerAll(lower(pc.Labels, ""))
	pc.Extensions = lowerAll(lower(pc.Extensions, "."))
	p.Triggers.Indicators = lower(p.Triggers.Indicators, "")
	p.Triggers.DLPPolicy = strings.TrimSpace(p.Triggers.DLPPolicy)
	p.ThresholdMode = strings.ToLower(strings.TrimSpace(p.ThresholdMode))
}

// dataLeakTemplate reports whether triggers are customisable for the template.
func dataLeakTemplate(id string) bool { return id == "data_leaks" || id == "data_leaks_priority" }

// validate checks a policy against the rule set and settings.
func (p *Policy) validate(rs *dsl.RuleSet, s *Settings) error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if p.Name == "" {
		bad("name must be set")
	}
	if len(p.Name) > 200 || strings.ContainsAny(p.Name, "\x00\n") {
		bad("name %q is too long or has control characters", p.Name)
	}
	tmpl := rs.Template(p.Template)
	if tmpl == nil {
		ids := []string{}
		for _, t := range rs.Templates() {
			ids = append(ids, t.ID)
		}
		bad("template %q is not one of %s", p.Template, strings.Join(ids, ", "))
	}
	for _, u := range p.Users {
		if u == "*" || strings.Contains(u, "@") {
			continue
		}
		if s.group(u) == nil {
			bad("users: %q is neither a UPN nor a priority group", u)
		}
	}
	inds := map[string]bool{}
	for _, id := range p.Indicators {
		if id == TemplateToken {
			if tmpl != nil {
				for _, t := range tmpl.Indicators {
					inds[t] = true
				}
			}
			continue
		}
		if rs.Indicator(id) == nil {
			bad("indicators: unknown indicator %q", id)
		}
		inds[id] = true
	}
	switch p.ThresholdMode {
	case "", ThresholdUser, ThresholdFixed:
	default:
		bad("threshold_mode must be user or fixed (or unset: the settings'), not %q", p.ThresholdMode)
	}
	for id, th := range p.Thresholds {
		if rs.Indicator(id) == nil {
			bad("thresholds: unknown indicator %q", id)
		} else if !inds[id] {
			bad("thresholds: indicator %q is not in this policy's indicators", id)
		}
		if len(th) != 3 || th[0] < 1 || th[1] < th[0] || th[2] < th[1] {
			bad("thresholds.%s: want three ascending daily counts >= 1 (low, medium, high), got %v", id, th)
		}
	}
	for _, id := range p.Sequences {
		if id != TemplateToken && rs.Sequence(id) == nil {
			bad("sequences: unknown sequence %q", id)
		}
	}
	if p.Triggers.custom() && !dataLeakTemplate(p.Template) {
		bad("triggers: only the data_leaks and data_leaks_priority templates take custom triggers; %s has built-in ones", p.Template)
	}
	for _, id := range p.Triggers.Indicators {
		if ind := rs.Indicator(id); ind == nil {
			bad("triggers.indicators: unknown indicator %q", id)
		} else if ind.Category != "exfiltration" {
			bad("triggers.indicators: %q is a %s indicator; triggers must be exfiltration indicators", id, ind.Category)
		}
	}
	for id, n := range p.Triggers.Thresholds {
		if !slices.Contains(p.Triggers.Indicators, id) {
			bad("triggers.thresholds: %q is not in triggers.indicators", id)
		}
		if n < 1 {
			bad("triggers.thresholds.%s: must be at least 1", id)
		}
	}
	if len(p.PriorityContent.Extensions) > 50 {
		bad("priority_content.extensions: at most 50, not %d", len(p.PriorityContent.Extensions))
	}
	if p.PriorityContent.Only && p.PriorityContent.empty() {
		bad("priority_content.only is set but no priority content is listed")
	}
	return errors.Join(errs...)
}

// Covers reports whether the policy's users include user (directly, by "*", or through
// a priority group). The UI shows coverage with it, so that page and engine agree.
func (p *Policy) Covers(user string, s *Settings) bool { return p.covers(strings.ToLower(user), s) }

// covers reports whether the policy's users include user (directly, by "*", or through a
// priority group).
func (p *Policy) covers(user string, s *Settings) bool {
	for _, u := range p.Users {
		if u == "*" || u == user {
			return true
		}
		if g := s.group(u); g != nil && slices.Contains(g.Members, user) {
			return true
		}
	}
	return false
}

// priorityMember reports whether user is covered by the policy and belongs to a
// priority group: the scope condition of the priority-user templates.
func (p *Policy) priorityMember(user string, s *Settings) bool {
	return p.covers(user, s) && len(s.groupsOf(user)) > 0
}

// DefaultPolicies is the policy file with one policy per built-in template.
//
//go:embed defaults.toml
var DefaultPolicies []byte
