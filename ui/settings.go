package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"irm/dsl"
	"irm/engine"
)

// settingsView is the settings form: the values shown (stored, or as submitted when
// they failed validation) and the choices the rule set offers.
type settingsView struct {
	S          engine.Settings
	Error      string
	Indicators []indicatorChoice // every indicator of the rule set, by category
	Defender   []string
}

type indicatorChoice struct {
	ID, Name, Category string
	Feeds              []string
	On                 bool
}

func (s *server) ruleSet() *dsl.RuleSet {
	if s.rules == nil {
		return nil
	}
	return s.rules.Current()
}

func (s *server) indicatorChoices(on func(id string) bool) []indicatorChoice {
	rs := s.ruleSet()
	if rs == nil {
		return nil
	}
	var out []indicatorChoice
	for _, ind := range rs.Indicators() {
		out = append(out, indicatorChoice{ID: ind.ID, Name: ind.Name, Category: ind.Category, Feeds: ind.Feeds, On: on(ind.ID)})
	}
	slices.SortStableFunc(out, func(a, b indicatorChoice) int { return strings.Compare(a.Category, b.Category) })
	return out
}

func (s *server) showSettings(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.renderSettings(w, r, c, http.StatusOK, s.eng.Settings(), "")
}

func (s *server) renderSettings(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, st engine.Settings, msg string) {
	on := func(id string) bool { return len(st.Indicators) == 0 || slices.Contains(st.Indicators, id) }
	v := settingsView{S: st, Error: msg, Indicators: s.indicatorChoices(on), Defender: engine.DefenderStatuses}
	s.render(w, r, status, settingsPage(s.page(r, c, "Settings"), v))
}

func (s *server) saveSettings(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	st := settingsFromForm(s.eng.Settings(), r.PostForm, len(s.indicatorChoices(func(string) bool { return false })))
	if err := s.eng.UpdateSettings(c.Account.Name, st); err != nil {
		s.renderSettings(w, r, c, http.StatusBadRequest, st, err.Error())
		return
	}
	s.redirectFlash(w, r, c, "/settings", "Settings saved")
}

// settingsFromForm reads the settings form over the current settings. An integer that
// does not parse is kept as -1 so that validation names the setting instead of the
// form silently keeping the old value. allIndicators is how many indicators the form
// offered: ticking all of them stores the empty list, which also enables indicators
// added to the rule set later.
func settingsFromForm(cur engine.Settings, f url.Values, allIndicators int) engine.Settings {
	st := cur
	num := func(name string, dst *int) {
		v := strings.TrimSpace(f.Get(name))
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1
		}
		*dst = n
	}
	num("activation_window_days", &st.ActivationWindowDays)
	num("past_activity_days", &st.PastActivityDays)
	num("min_daily_events", &st.MinDailyEvents)
	num("cumulative_percentile", &st.CumulativePercentile)
	num("cumulative_min_events", &st.CumulativeMinEvents)
	st.AlertVolume = f.Get("alert_volume")
	st.Pseudonymize = f.Get("pseudonymize") == "on"
	st.ExcludedFileTypes = nonNil(lines(f.Get("excluded_file_types")))
	st.DefenderStatuses = nonNil(f["defender_status"])
	st.Domains.Unallowed = nonNil(lines(f.Get("domains_unallowed")))
	st.Domains.Allowed = nonNil(lines(f.Get("domains_allowed")))
	st.Domains.ThirdParty = nonNil(lines(f.Get("domains_third_party")))
	st.PriorityAssets = nonNil(lines(f.Get("priority_assets")))
	if f.Has("indicators_offered") {
		on := nonNil(f["indicator"])
		if len(on) == allIndicators {
			on = []string{}
		}
		st.Indicators = on
	}
	st.PriorityGroups = []engine.PriorityGroup{}
	for i := 0; f.Has("group_" + strconv.Itoa(i) + "_name"); i++ {
		p := "group_" + strconv.Itoa(i) + "_"
		name := strings.TrimSpace(f.Get(p + "name"))
		if name == "" {
			continue // a cleared name deletes the group; the blank row adds one
		}
		st.PriorityGroups = append(st.PriorityGroups, engine.PriorityGroup{
			Name: name, Description: strings.TrimSpace(f.Get(p + "description")),
			Members: nonNil(lines(f.Get(p + "members"))), Viewers: lines(f.Get(p + "viewers")),
		})
	}
	return st
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// groupRows are the priority groups plus one blank row for adding a group.
func groupRows(gs []engine.PriorityGroup) []engine.PriorityGroup {
	return append(slices.Clone(gs), engine.PriorityGroup{})
}
