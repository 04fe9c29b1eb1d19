package engine

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"irm/config"
	"irm/dsl"
)

// Alert volumes (Purview "Intelligent detections > Alert volume").
const (
	VolumeFewer   = "fewer"
	VolumeDefault = "default"
	VolumeMore    = "more"
)

// DefenderStatuses are the triage statuses of endpoint alerts that may be imported.
var DefenderStatuses = []string{"unknown", "new", "inprogress", "resolved"}

// Settings are the global settings that apply to every policy.
type Settings struct {
	// Indicators lists the enabled indicator ids; empty enables every indicator (an
	// indicator whose feed has no data simply never matches).
	Indicators           []string `toml:"indicators" json:"indicators"`
	ActivationWindowDays int      `toml:"activation_window_days" json:"activation_window_days"`
	PastActivityDays     int      `toml:"past_activity_days" json:"past_activity_days"`
	// ExcludedFileTypes are file extensions (no dot, lower case) that no policy scores.
	ExcludedFileTypes []string `toml:"excluded_file_types" json:"excluded_file_types"`
	// MinDailyEvents gates the "above usual activity" booster: a day with fewer events
	// for an indicator is never boosted, however unusual.
	MinDailyEvents int    `toml:"min_daily_events" json:"min_daily_events"`
	AlertVolume    string `toml:"alert_volume" json:"alert_volume"`
	// ThresholdMode is "user" (a day's count must reach the fixed threshold and stand
	// out from the user's own history) or "fixed" (the fixed thresholds alone); a
	// policy may override it.
	ThresholdMode string `toml:"threshold_mode" json:"threshold_mode"`
	// BaselineMinDays is the number of active days in the previous 30 a user needs for
	// their own baseline; with fewer, their department's (then the organisation's) is used.
	BaselineMinDays int `toml:"baseline_min_days" json:"baseline_min_days"`
	// DefenderStatuses are the endpoint alert triage statuses that are imported (scored
	// and used as triggers); endpoint alerts in other statuses are stored only.
	DefenderStatuses []string `toml:"defender_statuses" json:"defender_statuses"`
	Pseudonymize     bool     `toml:"pseudonymize" json:"pseudonymize"`
	// CumulativePercentile and CumulativeMinEvents define cumulative exfiltration: a
	// user's 30-day exfiltration above this percentile of the organisation's (or of their
	// department's) and at least this many events.
	CumulativePercentile int             `toml:"cumulative_percentile" json:"cumulative_percentile"`
	CumulativeMinEvents  int             `toml:"cumulative_min_events" json:"cumulative_min_events"`
	Domains              Domains         `toml:"domains" json:"domains"`
	PriorityGroups       []PriorityGroup `toml:"priority_group" json:"priority_groups"`
	// PriorityAssets are badge reader / asset ids whose failed access is scored.
	PriorityAssets []string `toml:"priority_assets" json:"priority_assets"`
}

// Domains are the global domain lists; "*.x.com" matches subdomains of x.com, a bare
// name matches exactly.
type Domains struct {
	Unallowed  []string `toml:"unallowed" json:"unallowed"`
	Allowed    []string `toml:"allowed" json:"allowed"`
	ThirdParty []string `toml:"third_party" json:"third_party"`
}

// PriorityGroup is a named set of users whose activity is scored more closely.
type PriorityGroup struct {
	Name        string   `toml:"name" json:"name"`
	Description string   `toml:"description,omitempty" json:"description,omitempty"`
	Members     []string `toml:"members" json:"members"`
	// Viewers are the UI accounts or roles allowed to review the group's users (empty:
	// every reviewer).
	Viewers []string `toml:"viewers,omitempty" json:"viewers,omitempty"`
}

// DefaultSettings returns the settings used until an administrator imports others.
func DefaultSettings() Settings {
	return Settings{
		ActivationWindowDays: 30,
		PastActivityDays:     90,
		MinDailyEvents:       10,
		AlertVolume:          VolumeDefault,
		ThresholdMode:        ThresholdUser,
		BaselineMinDays:      10,
		DefenderStatuses:     []string{"new", "inprogress", "resolved", "unknown"},
		Pseudonymize:         true,
		CumulativePercentile: 95,
		CumulativeMinEvents:  20,
		ExcludedFileTypes:    []string{},
		Indicators:           []string{},
		PriorityAssets:       []string{},
		PriorityGroups:       []PriorityGroup{},
	}
}

// normalize lower-cases and trims the list entries so that comparisons are exact.
func (s *Settings) normalize() {
	low := func(xs []string, trim string) []string {
		out := make([]string, 0, len(xs))
		for _, x := range xs {
			x = strings.TrimLeft(strings.ToLower(strings.TrimSpace(x)), trim)
			if x != "" && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		return out
	}
	s.Indicators = low(s.Indicators, "")
	s.ExcludedFileTypes = low(s.ExcludedFileTypes, ".")
	s.AlertVolume = strings.ToLower(strings.TrimSpace(s.AlertVolume))
	s.ThresholdMode = strings.ToLower(strings.TrimSpace(s.ThresholdMode))
	s.DefenderStatuses = low(s.DefenderStatuses, "")
	for i, d := range s.DefenderStatuses {
		s.DefenderStatuses[i] = defenderStatusKey(d)
	}
	s.Domains.Unallowed = low(s.Domains.Unallowed, "")
	s.Domains.Allowed = low(s.Domains.Allowed, "")
	s.Domains.ThirdParty = low(s.Domains.ThirdParty, "")
	// Asset ids are identifiers compared exactly against the badging feed's AssetId and
	// AssetName, so they keep their case (lower-casing them made "DC-B1-01" never match).
	assets := make([]string, 0, len(s.PriorityAssets))
	for _, a := range s.PriorityAssets {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(assets, a) {
			assets = append(assets, a)
		}
	}
	s.PriorityAssets = assets
	for i := range s.PriorityGroups {
		g := &s.PriorityGroups[i]
		g.Name = strings.TrimSpace(g.Name)
		g.Members = low(g.Members, "")
	}
}

// Validate reports every setting that cannot work. rs (may be nil) checks indicator ids.
func (s *Settings) Validate(rs *dsl.RuleSet) error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if s.ActivationWindowDays < 1 || s.ActivationWindowDays > 30 {
		bad("activation_window_days must be 1-30, not %d", s.ActivationWindowDays)
	}
	if s.PastActivityDays < 0 || s.PastActivityDays > 180 {
		bad("past_activity_days must be 0-180, not %d", s.PastActivityDays)
	}
	if s.MinDailyEvents < 0 {
		bad("min_daily_events must be 0 or more, not %d", s.MinDailyEvents)
	}
	switch s.AlertVolume {
	case VolumeFewer, VolumeDefault, VolumeMore:
	default:
		bad("alert_volume must be fewer, default or more, not %q", s.AlertVolume)
	}
	switch s.ThresholdMode {
	case ThresholdUser, ThresholdFixed:
	default:
		bad("threshold_mode must be user or fixed, not %q", s.ThresholdMode)
	}
	if s.BaselineMinDays < 1 || s.BaselineMinDays > baselineDays {
		bad("baseline_min_days must be 1-%d, not %d", baselineDays, s.BaselineMinDays)
	}
	for _, st := range s.DefenderStatuses {
		if !slices.Contains(DefenderStatuses, st) {
			bad("defender_statuses: %q is not one of %s", st, strings.Join(DefenderStatuses, ", "))
		}
	}
	if s.CumulativePercentile < 50 || s.CumulativePercentile > 99 {
		bad("cumulative_percentile must be 50-99, not %d", s.CumulativePercentile)
	}
	if s.CumulativeMinEvents < 1 {
		bad("cumulative_min_events must be at least 1, not %d", s.CumulativeMinEvents)
	}
	for _, ext := range s.ExcludedFileTypes {
		if strings.ContainsAny(ext, " /\\*") {
			bad("excluded_file_types: %q is not a file extension", ext)
		}
	}
	for name, list := range map[string][]string{"unallowed": s.Domains.Unallowed, "allowed": s.Domains.Allowed, "third_party": s.Domains.ThirdParty} {
		if len(list) > 500 {
			bad("domains.%s: at most 500 domains, not %d", name, len(list))
		}
		for _, d := range list {
			if !validDomainPattern(d) {
				bad("domains.%s: %q is not a domain or *.domain", name, d)
			}
		}
	}
	seen := map[string]bool{}
	for i, g := range s.PriorityGroups {
		switch {
		case g.Name == "":
			bad("priority_group %d: name must be set", i+1)
		case g.Name == "*" || strings.Contains(g.Name, "@"):
			bad("priority_group %q: a name may not be \"*\" or contain @ (policies mix group names and UPNs)", g.Name)
		case seen[strings.ToLower(g.Name)]:
			bad("priority_group %q: defined twice", g.Name)
		}
		seen[strings.ToLower(g.Name)] = true
		for _, m := range g.Members {
			if !strings.Contains(m, "@") {
				bad("priority_group %q: member %q is not a UPN", g.Name, m)
			}
		}
	}
	if rs != nil {
		for _, id := range s.Indicators {
			if rs.Indicator(id) == nil {
				bad("indicators: unknown indicator %q", id)
			}
		}
	}
	return errors.Join(errs...)
}

func validDomainPattern(d string) bool {
	d = strings.TrimPrefix(d, "*.")
	return d != "" && !strings.ContainsAny(d, " @/*:") && !strings.HasPrefix(d, ".") && !strings.HasSuffix(d, ".")
}

// enabled reports whether the indicator id is enabled globally.
func (s *Settings) enabled(id string) bool {
	return len(s.Indicators) == 0 || slices.Contains(s.Indicators, id)
}

// group returns the priority group named name (case-insensitive).
func (s *Settings) group(name string) *PriorityGroup {
	for i := range s.PriorityGroups {
		if strings.EqualFold(s.PriorityGroups[i].Name, name) {
			return &s.PriorityGroups[i]
		}
	}
	return nil
}

// groupsOf returns the names of the priority groups user belongs to.
func (s *Settings) groupsOf(user string) []string {
	var out []string
	for _, g := range s.PriorityGroups {
		if slices.Contains(g.Members, user) {
			out = append(out, g.Name)
		}
	}
	return out
}

// lists are the settings lists handed to rules (lists.unallowed_domains, ...).
func (s *Settings) lists() map[string][]string {
	return map[string][]string{
		"unallowed_domains":   s.Domains.Unallowed,
		"allowed_domains":     s.Domains.Allowed,
		"third_party_domains": s.Domains.ThirdParty,
		"priority_assets":     s.PriorityAssets,
		"excluded_file_types": s.ExcludedFileTypes,
	}
}

type settingsFile struct {
	Settings Settings `toml:"settings"`
}

// ParseSettings reads a settings file ([settings] table). Keys not given keep their
// defaults; unknown keys are errors naming the key and its line.
func ParseSettings(name string, data []byte, rs *dsl.RuleSet) (Settings, error) {
	f := settingsFile{Settings: DefaultSettings()}
	if err := decodeStrict(name, data, &f); err != nil {
		return Settings{}, err
	}
	f.Settings.normalize()
	if err := f.Settings.Validate(rs); err != nil {
		return Settings{}, fmt.Errorf("%s: %w", name, err)
	}
	return f.Settings, nil
}

// FormatSettings writes s in the settings file format.
func FormatSettings(s Settings) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# irm global settings (irm settings export); import with: irm settings import FILE\n")
	if err := toml.NewEncoder(&b).Encode(settingsFile{Settings: s}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeStrict decodes TOML into v and turns parse errors and unknown keys into errors
// with line numbers.
func decodeStrict(name string, data []byte, v any) error {
	md, err := toml.Decode(string(data), v)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("%s line %d: %s", name, perr.Position.Line, perr.Message)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("%s line %d: unknown key %q", name, config.KeyLine(string(data), k), k.String()))
	}
	return errors.Join(errs...)
}
