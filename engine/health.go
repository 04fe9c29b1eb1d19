package engine

import (
	"fmt"
	"strings"
	"time"

	"irm/event"
)

// Health levels, after Purview's policy health statuses.
const (
	LevelWarning        = "warning"        // the policy will not identify risky activity
	LevelRecommendation = "recommendation" // the policy may not work as expected
)

// HealthWarning is one policy health finding.
type HealthWarning struct {
	Code    string `json:"code"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// hrSilentAfter: an HR feed that delivered nothing for this long is reported.
const hrSilentAfter = 7 * 24 * time.Hour

// PolicyHealth lists the policy's health warnings (empty: healthy).
func (e *Engine) PolicyHealth(name string) []HealthWarning {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.policies[name]
	if !ok {
		return []HealthWarning{{Code: "not_found", Level: LevelWarning, Message: "no such policy"}}
	}
	var out []HealthWarning
	add := func(code, level, f string, a ...any) {
		out = append(out, HealthWarning{Code: code, Level: level, Message: fmt.Sprintf(f, a...)})
	}
	s := &e.settings
	rs := e.ruleSet()
	if rs == nil {
		return []HealthWarning{{Code: "no_rules", Level: LevelWarning, Message: "no rule set is loaded"}}
	}
	tmpl := rs.Template(p.Template)
	if tmpl == nil {
		return []HealthWarning{{Code: "no_template", Level: LevelWarning, Message: "template " + p.Template + " is not in the rule set"}}
	}
	if !p.Enabled {
		add("disabled", LevelRecommendation, "policy is turned off")
	}
	// Users.
	users := 0
	groups := 0
	for _, u := range p.Users {
		switch {
		case u == "*" || strings.Contains(u, "@"):
			users++
		default:
			if g := s.group(u); g != nil {
				groups++
				users += len(g.Members)
			}
		}
	}
	if users == 0 {
		add("no_users", LevelWarning, "no users or groups are included in this policy")
	}
	if tmpl.Priority && groups == 0 && len(s.PriorityGroups) == 0 {
		add("no_priority_groups", LevelWarning, "no priority user groups are included in this policy")
	}
	if e.users != nil && len(e.scorer().indicatorSet(p, tmpl)) == 0 {
		add("no_indicators", LevelWarning, "no indicators are selected (or none of them is enabled in the settings)")
	} else if len(p.Indicators) == 0 {
		add("no_indicators", LevelWarning, "no indicators are selected for this policy")
	}
	// Trigger feeds.
	stats, err := e.db.FeedStats()
	if err != nil {
		add("feed_stats", LevelRecommendation, "cannot read feed statistics: %v", err)
	}
	trigFeeds := map[string]bool{}
	for _, tr := range tmpl.Triggers {
		for _, f := range tr.Feeds {
			trigFeeds[f] = true
		}
	}
	if p.Triggers.DLPPolicy != "" {
		trigFeeds = map[string]bool{event.FeedDLP: true}
	} else if len(p.Triggers.Indicators) > 0 {
		trigFeeds = map[string]bool{}
		for _, id := range p.Triggers.Indicators {
			if ind := rs.Indicator(id); ind != nil {
				for _, f := range ind.Feeds {
					trigFeeds[f] = true
				}
			}
		}
	}
	if len(trigFeeds) > 0 && !tmpl.Priority && stats != nil {
		have := false
		var names []string
		for f := range trigFeeds {
			names = append(names, f)
			if stats[f].Events > 0 {
				have = true
			}
		}
		if !have {
			add("no_trigger_data", LevelWarning, "no data has arrived from the triggering feed(s) %s", strings.Join(names, ", "))
		}
	}
	if trigFeeds[event.FeedHR] && stats != nil {
		hr := stats[event.FeedHR]
		switch {
		case hr.Files == 0 && hr.Events == 0:
			add("hr_missing", LevelWarning, "the HR feed has delivered no data; this template needs HR records")
		case !hr.LastFile.IsZero() && e.now().Sub(hr.LastFile) > hrSilentAfter:
			add("hr_silent", LevelWarning, "the HR feed has not delivered a file for %d days (last %s)",
				int(e.now().Sub(hr.LastFile).Hours()/24), hr.LastFile.Format("2006-01-02"))
		}
	}
	if dataLeakTemplate(p.Template) && !p.Triggers.custom() && len(tmpl.Triggers) == 0 {
		add("no_trigger", LevelWarning, "no triggering event is selected for this policy")
	}
	if name := p.Triggers.DLPPolicy; name != "" && e.dlpSeen != nil && !e.dlpSeen[strings.ToLower(name)] {
		add("dlp_policy_unseen", LevelWarning, "DLP policy %q has never been seen in the DLP feed", name)
	}
	// Scope share.
	if e.users != nil {
		covered, triggered := 0, 0
		sc := e.scorer()
		for u, ux := range e.users {
			if !p.covers(u, s) {
				continue
			}
			covered++
			if ws, _, _ := sc.pass(ux).scope(p, tmpl, p.thresholdMode(s)); len(ws) > 0 {
				triggered++
			}
		}
		if covered >= 20 && !tmpl.Priority && float64(triggered) > 0.15*float64(covered) {
			add("trigger_share", LevelRecommendation, "triggering events occur for %d of %d users (%.0f%%, over 15%%); the trigger may be too broad",
				triggered, covered, 100*float64(triggered)/float64(covered))
		}
	}
	hasAlert := false
	for _, a := range e.alerts {
		if a.Policy == name {
			hasAlert = true
			break
		}
	}
	if !hasAlert && e.users != nil {
		add("no_alerts", LevelRecommendation, "the policy has not generated any alerts")
	}
	return out
}

// EnsureIndex builds the per-user index if needed (for commands that report health).
func (e *Engine) EnsureIndex() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensureBuilt(); err != nil {
		return err
	}
	return e.flushDocs()
}
