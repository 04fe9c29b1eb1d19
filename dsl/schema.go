// The TOML schema of rule files: the documents the decoder fills, the keys each table
// allows, and the unknown-key check.

package dsl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

type fileDoc struct {
	List      []listDoc      `toml:"list"`
	Indicator []indicatorDoc `toml:"indicator"`
	Sequence  []sequenceDoc  `toml:"sequence"`
	Template  []templateDoc  `toml:"template"`
	Test      []testDoc      `toml:"test"`
}

type listDoc struct {
	ID          string   `toml:"id"`
	Name        string   `toml:"name"`
	Description string   `toml:"description"`
	Items       []string `toml:"items"`
}

type indicatorDoc struct {
	ID          string   `toml:"id"`
	Name        string   `toml:"name"`
	Category    string   `toml:"category"`
	Description string   `toml:"description"`
	Feeds       []string `toml:"feeds"`
	When        string   `toml:"when"`
	Thresholds  []int    `toml:"thresholds"`
	// FirstSeen is checked key by key in compile (positions, types, defaults).
	FirstSeen map[string]any `toml:"first_seen"`
}

type sequenceDoc struct {
	ID          string   `toml:"id"`
	Name        string   `toml:"name"`
	Category    string   `toml:"category"`
	Description string   `toml:"description"`
	Steps       []string `toml:"steps"`
	Within      string   `toml:"within"`
	Link        string   `toml:"link"`
	Thresholds  []int    `toml:"thresholds"`
}

type triggerDoc struct {
	ID         string   `toml:"id"`
	Name       string   `toml:"name"`
	When       string   `toml:"when"`
	Feeds      []string `toml:"feeds"`
	Indicators []string `toml:"indicators"`
	MinCount   int      `toml:"min_count"`
}

type templateDoc struct {
	ID            string       `toml:"id"`
	Name          string       `toml:"name"`
	Category      string       `toml:"category"`
	Description   string       `toml:"description"`
	RequiredFeeds []string     `toml:"required_feeds"`
	Trigger       []triggerDoc `toml:"trigger"`
	Indicators    []string     `toml:"indicators"`
	Sequences     []string     `toml:"sequences"`
	Cumulative    bool         `toml:"cumulative"`
	Priority      bool         `toml:"priority"`
}

type testDoc struct {
	Name      string              `toml:"name"`
	Indicator string              `toml:"indicator"`
	Sequence  string              `toml:"sequence"`
	Template  string              `toml:"template"`
	Trigger   string              `toml:"trigger"`
	Event     map[string]any      `toml:"event"`
	Events    []map[string]any    `toml:"events"`
	Profile   map[string]any      `toml:"profile"`
	Lists     map[string][]string `toml:"lists"`
	// ActiveDays: first_seen indicator tests only.
	ActiveDays  *int   `toml:"active_days"`
	OrgTimezone string `toml:"org_timezone"`
	Expect      *bool  `toml:"expect"`
}

// firstSeenKeys are the keys of an indicator's first_seen table.
var firstSeenKeys = []string{"key", "days", "min_active_days"}

// subTables are tables that belong to the [[...]] entry before them and are written
// [name] (or inline), not [[name]].
var subTables = map[string]bool{"indicator.first_seen": true}

// allowedKeys per table, for the unknown-key check.
var allowedKeys = map[string][]string{
	"list":                 {"id", "name", "description", "items"},
	"indicator":            {"id", "name", "category", "description", "feeds", "when", "thresholds", "first_seen"},
	"indicator.first_seen": firstSeenKeys,
	"sequence":             {"id", "name", "category", "description", "steps", "within", "link", "thresholds"},
	"template":             {"id", "name", "category", "description", "required_feeds", "indicators", "sequences", "cumulative", "priority", "trigger"},
	"template.trigger":     {"id", "name", "when", "feeds", "indicators", "min_count"},
	"test":                 {"name", "indicator", "sequence", "template", "trigger", "event", "events", "profile", "lists", "active_days", "org_timezone", "expect"},
}

func (l *loader) checkKeys(pf *parsedFile, md toml.MetaData) {
	known := map[string]bool{"": true}
	for k := range allowedKeys {
		known[k] = true
	}
	for _, b := range pf.ix.blocks {
		en := entry{pf.src, pf.ix, b}
		if !known[b.header] {
			l.diags = append(l.diags, Diag{pf.src.name, b.line, 1, fmt.Sprintf("unknown table [[%s]] (want list, indicator, sequence, template, template.trigger or test)", b.header)})
			continue
		}
		if b.header == "" {
			for _, k := range b.order {
				l.errf(en, k, "unknown key %q outside any table", k)
			}
			continue
		}
		switch {
		case subTables[b.header]:
			if b.array {
				l.diags = append(l.diags, Diag{pf.src.name, b.line, 1, fmt.Sprintf("[[%s]] must be a single table: write [%s]", b.header, b.header)})
			}
			// Its keys are checked where it is compiled, for both ways of writing it.
			continue
		case !b.array:
			l.diags = append(l.diags, Diag{pf.src.name, b.line, 1, fmt.Sprintf("[%s] must be an array of tables: write [[%s]]", b.header, b.header)})
		}
		for _, k := range b.order {
			// Dotted keys of a sub-table (first_seen.key = ...) are checked with it.
			if head, _, dotted := strings.Cut(k, "."); dotted && subTables[b.header+"."+head] {
				continue
			}
			if !slices.Contains(allowedKeys[b.header], k) {
				l.errf(en, k, "unknown key %q in [[%s]] (allowed: %s)", k, b.header, strings.Join(allowedKeys[b.header], ", "))
			}
		}
	}
	// The scanner covers ordinary layouts; report anything else the decoder did not use.
	reported := map[string]bool{}
	for _, d := range l.diags {
		if d.File == pf.src.name {
			reported[d.Msg] = true
		}
	}
	for _, k := range md.Undecoded() {
		if len(k) >= 2 && (k[0] == "test" && (k[1] == "event" || k[1] == "events" || k[1] == "profile" || k[1] == "lists")) {
			continue
		}
		found := false
		for m := range reported {
			if strings.Contains(m, strconv.Quote(k[len(k)-1])) {
				found = true
			}
		}
		if !found {
			l.diags = append(l.diags, Diag{pf.src.name, 1, 1, fmt.Sprintf("unknown key %q", k.String())})
		}
	}
}
