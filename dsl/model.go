// The rule model: what a compiled rule file yields (lists, indicators, sequences,
// templates and their triggers, tests), as the engine, the UI and `irm rules list` see it.

package dsl

import (
	"time"

	"cel.dev/cel-go/cel"

	"irm/event"
)

// Categories are the indicator categories.
var Categories = []string{"access", "collection", "exfiltration", "obfuscation", "deletion", "security", "infiltration", "physical", "browsing"}

// TemplateCategories are the policy template categories.
var TemplateCategories = []string{"data_theft", "data_leaks", "security", "browsing"}

// SettingsLists are the lists the engine passes from settings with every input; rules may
// use them even though no rule file defines them.
var SettingsLists = []string{"unallowed_domains", "allowed_domains", "third_party_domains", "priority_assets", "priority_sites", "priority_labels", "priority_sensitive_types", "priority_extensions"}

// DefaultThresholds apply to an indicator that gives none.
var DefaultThresholds = [3]int{1, 5, 10}

// List is a named list of strings (domains, sites, assets).
type List struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Items       []string `json:"items"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
}

// Indicator is one risk indicator: a CEL condition over one event.
type Indicator struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Category    string   `json:"category"`
	Description string   `json:"description,omitempty"`
	Feeds       []string `json:"feeds"`
	When        string   `json:"when"`
	Thresholds  [3]int   `json:"thresholds"` // daily counts that reach low, medium, high
	File        string   `json:"file"`
	Line        int      `json:"line"`
	// Operations are the event operations the condition can match, derived from its
	// `event.operation == "X"` / `in [...]` conjuncts; nil means any operation.
	Operations []string `json:"operations"`
	Builtin    bool     `json:"builtin"` // from the embedded catalog (and not overridden)
	// FirstSeen, when set, makes this a novelty indicator: an event matching When counts
	// only if its key is new for the user (NoveltyTracker decides). Match still returns
	// the indicator for every event matching When, since novelty depends on history.
	FirstSeen *FirstSeen `json:"first_seen,omitempty"`
}

// FirstSeen is the novelty condition of an indicator (first_seen = { ... }): an event
// matching the indicator's When counts only if (i) the user produced no event matching
// When with the same key in the Days days before it (events strictly before it, at most
// Days*24h earlier), and (ii) the user was active (had any stored event of any feed) on
// at least MinActiveDays distinct UTC days among the Days days before the event's day.
type FirstSeen struct {
	// Key is the CEL expression (of type string) whose value must be new; "" means one
	// key for every event: "the first matching event at all in Days days".
	Key           string `json:"key"`
	Days          int    `json:"days"`            // 1 to FirstSeenMaxDays; default 30
	MinActiveDays int    `json:"min_active_days"` // 0 to Days; default the smaller of 10 and Days
	prg           cel.Program
}

// First_seen defaults and bounds.
const (
	FirstSeenDefaultDays          = 30
	FirstSeenDefaultMinActiveDays = 10
	FirstSeenMaxDays              = 365
)

// Window is how far back a matching event with the same key makes an event not novel.
func (fs *FirstSeen) Window() time.Duration { return time.Duration(fs.Days) * 24 * time.Hour }

// Sequence is an ordered chain of indicator matches for one file or user within a window.
type Sequence struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Category    string `json:"category"`
	Description string `json:"description,omitempty"`
	// Steps as written: each an indicator id, "a|b|c" (any of them) or "@category"
	// (any indicator of that category).
	Steps []string `json:"steps"`
	// StepSets are the indicator ids each step accepts, resolved at load.
	StepSets [][]string `json:"step_sets"`
	// StepIx are the same as indicator indices of the rule set (RuleSet.IndicatorIndex),
	// for SequenceTracker.Step.
	StepIx     [][]int       `json:"-"`
	Within     time.Duration `json:"within_ns"`
	Link       string        `json:"link"`       // "file" or "user"
	Thresholds [3]int        `json:"thresholds"` // files completing the sequence in a day for low, medium, high
	File       string        `json:"file"`
	Line       int           `json:"line"`
	Builtin    bool          `json:"builtin"`
}

// Trigger is one triggering event of a template.
type Trigger struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	When  string   `json:"when,omitempty"`
	Feeds []string `json:"feeds,omitempty"`
	// Indicators, when set, make this a count trigger: it fires once the user's daily
	// count of one of these indicators reaches Thresholds[id] (MatchTriggers returns it
	// for each matching event; the engine keeps the counts). When, if also set, is an
	// extra condition.
	Indicators []string       `json:"indicators,omitempty"`
	Thresholds map[string]int `json:"thresholds,omitempty"`
}

// Template is a policy template.
type Template struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Category      string    `json:"category"`
	Description   string    `json:"description,omitempty"`
	RequiredFeeds []string  `json:"required_feeds"`
	Triggers      []Trigger `json:"triggers"`
	Indicators    []string  `json:"indicators"` // default indicators
	Sequences     []string  `json:"sequences"`  // sequences that apply
	Cumulative    bool      `json:"cumulative"` // cumulative exfiltration detection applies
	Priority      bool      `json:"priority"`   // priority-user variant
	File          string    `json:"file"`
	Line          int       `json:"line"`
	Builtin       bool      `json:"builtin"`
}

// Test is one [[test]] case.
type Test struct {
	Name                                   string
	Indicator, Sequence, Template, Trigger string
	// Events: one for an indicator or trigger test; for a sequence test, or a test of a
	// first_seen indicator, several (sorted by time when run; the latest is the one a
	// first_seen test judges, the others are the user's history).
	Events         []*event.Event
	Profile        *event.Profile
	PriorityGroups []string
	Lists          map[string][]string
	// ActiveDays is, for a first_seen indicator test, the number of days the user was
	// active before the latest event (default: the indicator's days).
	ActiveDays int
	// OrgTimezone is the organisation's time zone the test runs with (default
	// TestOrgTimezone).
	OrgTimezone string
	Expect      bool
	File        string
	Line        int
}

// Kind returns what the test checks ("indicator", "sequence" or "trigger") and its id.
func (t *Test) Kind() (string, string) {
	switch {
	case t.Indicator != "":
		return "indicator", t.Indicator
	case t.Sequence != "":
		return "sequence", t.Sequence
	}
	return "trigger", t.Template + "/" + t.Trigger
}
