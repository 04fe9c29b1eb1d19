package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/danielgtaylor/huma/v2"

	"irm/account"
	"irm/dsl"
	"irm/engine"
)

// The rule workbench as an API: list the rules in force, lint and test a rule file
// (compiled with the rules directory, as the workbench does), backtest an indicator or
// sequence over the stored events. Nothing here saves a file.

type ruleIndicator struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Category   string   `json:"category"`
	Feeds      []string `json:"feeds"`
	Thresholds [3]int   `json:"thresholds"`
	FirstSeen  bool     `json:"first_seen,omitempty"`
	File       string   `json:"file" doc:"The rule file: a built-in one's name, or a file of the rules directory."`
	Line       int      `json:"line"`
	Builtin    bool     `json:"builtin"`
}

type ruleSequence struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category string   `json:"category"`
	Steps    []string `json:"steps"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Builtin  bool     `json:"builtin"`
}

type ruleTemplate struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Category   string   `json:"category"`
	Indicators []string `json:"indicators"`
	Sequences  []string `json:"sequences"`
	Builtin    bool     `json:"builtin"`
}

type rulesBody struct {
	Loads      bool            `json:"loads" doc:"Whether the rules directory compiles (otherwise the last good rules stay in force)."`
	Error      string          `json:"error,omitempty"`
	Indicators []ruleIndicator `json:"indicators"`
	Sequences  []ruleSequence  `json:"sequences"`
	Templates  []ruleTemplate  `json:"templates"`
}

type ruleDiag struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

type ruleFileIn struct {
	Body struct {
		File string `json:"file,omitempty" maxLength:"128" doc:"The file's name in the rules directory (default new.toml): the draft replaces that file."`
		Text string `json:"text,omitempty" maxLength:"262144" doc:"The rule file's TOML; empty for the rules in force."`
	}
}

type lintBody struct {
	OK          bool       `json:"ok"`
	Diagnostics []ruleDiag `json:"diagnostics"`
}

type ruleTestResult struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Name    string `json:"name,omitempty"`
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Pass    bool   `json:"pass"`
	Message string `json:"message,omitempty" doc:"Why a test failed."`
}

type testBody struct {
	Passed  int              `json:"passed"`
	Failed  int              `json:"failed"`
	Results []ruleTestResult `json:"results"`
}

type backtestIn struct {
	Body struct {
		ID   string `json:"id" minLength:"1" maxLength:"128" doc:"The indicator or sequence to replay."`
		Days int    `json:"days,omitempty" minimum:"0" maximum:"90" doc:"Days replayed, ending today (default 30)."`
		File string `json:"file,omitempty" maxLength:"128" doc:"With text: the draft's file name in the rules directory."`
		Text string `json:"text,omitempty" maxLength:"262144" doc:"A candidate rule file compiled with the rules directory; empty for the rules in force."`
	}
}

func baseName(p string) string { return filepath.Base(p) }

// draft compiles text as the rules directory's file (or returns the rules in force).
func (s *server) draft(file, text string, forTests bool) (*dsl.RuleSet, string, error) {
	name := editorName(file)
	if text == "" {
		if forTests {
			rs, err := s.rules.CurrentForTests()
			return rs, "", err
		}
		return s.rules.Current(), "", s.rules.LastError()
	}
	if err := dsl.ValidFileName(name); err != nil {
		return nil, "", apiErr(http.StatusBadRequest, err.Error())
	}
	rs, err := s.rules.Draft(name, []byte(text), forTests)
	return rs, s.rules.Path(name), err
}

func diags(err error) []ruleDiag {
	out := []ruleDiag{}
	var le *dsl.LoadError
	if !errors.As(err, &le) {
		if err != nil {
			out = append(out, ruleDiag{Message: err.Error()})
		}
		return out
	}
	for _, d := range le.Diags {
		out = append(out, ruleDiag{File: baseName(d.File), Line: d.Line, Col: d.Col, Message: d.Msg})
	}
	return out
}

func (a *api) rules() {
	s := a.s
	tags := []string{"rules"}
	unavailable := apiErr(http.StatusServiceUnavailable, "the rules are not available in this process")
	apiOp(a, account.PermRules, huma.Operation{OperationID: "listRules", Method: "GET", Path: "/api/v1/rules", Tags: tags,
		Summary: "List the rules in force", Description: "Indicators, sequences and templates: the built-in catalog with the rules directory's files."},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[rulesBody], error) {
			if s.rules == nil {
				return nil, unavailable
			}
			rs := s.rules.Current()
			res := rulesBody{Loads: s.rules.LastError() == nil, Indicators: []ruleIndicator{}, Sequences: []ruleSequence{}, Templates: []ruleTemplate{}}
			if err := s.rules.LastError(); err != nil {
				res.Error = err.Error()
			}
			for _, ind := range rs.Indicators() {
				res.Indicators = append(res.Indicators, ruleIndicator{ID: ind.ID, Name: ind.Name, Category: ind.Category, Feeds: ind.Feeds,
					Thresholds: ind.Thresholds, FirstSeen: ind.FirstSeen != nil, File: baseName(ind.File), Line: ind.Line, Builtin: ind.Builtin})
			}
			for _, sq := range rs.Sequences() {
				res.Sequences = append(res.Sequences, ruleSequence{ID: sq.ID, Name: sq.Name, Category: sq.Category, Steps: sq.Steps,
					File: baseName(sq.File), Line: sq.Line, Builtin: sq.Builtin})
			}
			for _, t := range rs.Templates() {
				res.Templates = append(res.Templates, ruleTemplate{ID: t.ID, Name: t.Name, Category: t.Category, Indicators: t.Indicators,
					Sequences: t.Sequences, Builtin: t.Builtin})
			}
			return reply(res)
		})
	apiOp(a, account.PermRules, huma.Operation{OperationID: "lintRules", Method: "POST", Path: "/api/v1/rules/lint", Tags: tags, MaxBodyBytes: 2 * maxRuleFile,
		Summary: "Lint a rule file", Description: "Compiles the text as that file of the rules directory, with the other files; every problem with its line and column. Saves nothing."},
		func(_ context.Context, c *reqCtx, in *ruleFileIn) (*out[lintBody], error) {
			if s.rules == nil {
				return nil, unavailable
			}
			_, _, err := s.draft(in.Body.File, in.Body.Text, false)
			var se huma.StatusError
			if errors.As(err, &se) {
				return nil, err
			}
			return reply(lintBody{OK: err == nil, Diagnostics: diags(err)})
		})
	apiOp(a, account.PermRules, huma.Operation{OperationID: "testRules", Method: "POST", Path: "/api/v1/rules/test", Tags: tags, MaxBodyBytes: 2 * maxRuleFile,
		Summary: "Run rule tests", Description: "Runs the [[test]]s of the given file (compiled with the rules directory), or of every rule in force when no text is given.", Errors: []int{400}},
		func(_ context.Context, c *reqCtx, in *ruleFileIn) (*out[testBody], error) {
			if s.rules == nil {
				return nil, unavailable
			}
			rs, path, err := s.draft(in.Body.File, in.Body.Text, true)
			if err != nil {
				var se huma.StatusError
				if errors.As(err, &se) {
					return nil, err
				}
				return nil, apiErr(http.StatusBadRequest, "the rules do not compile: "+err.Error())
			}
			res := testBody{Results: []ruleTestResult{}}
			for _, r := range rs.RunTests() {
				if path != "" && r.Test.File != path {
					continue
				}
				kind, id := r.Test.Kind()
				tr := ruleTestResult{File: baseName(r.Test.File), Line: r.Test.Line, Name: r.Test.Name, Kind: kind, ID: id, Pass: r.Pass}
				if r.Pass {
					res.Passed++
				} else {
					res.Failed++
					tr.Message = r.String()
				}
				res.Results = append(res.Results, tr)
			}
			return reply(res)
		})
	apiOp(a, account.PermRules, huma.Operation{OperationID: "backtestRule", Method: "POST", Path: "/api/v1/rules/backtest", Tags: tags, MaxBodyBytes: 2 * maxRuleFile,
		Summary: "Backtest an indicator or sequence", Description: "Replays the stored events of the last days through the rule: matches per day, users per threshold level, examples (users pseudonymised as the caller's role requires). Saves nothing; can take seconds.",
		Errors: []int{400}},
		func(ctx context.Context, c *reqCtx, in *backtestIn) (*out[engine.RuleBacktestResult], error) {
			if s.rules == nil {
				return nil, unavailable
			}
			rs, _, err := s.draft(in.Body.File, in.Body.Text, false)
			if err != nil {
				var se huma.StatusError
				if errors.As(err, &se) {
					return nil, err
				}
				return nil, apiErr(http.StatusBadRequest, "the rules do not compile: "+err.Error())
			}
			days := in.Body.Days
			if days == 0 {
				days = engine.RuleBacktestDefaultDays
			}
			res, err := s.eng.BacktestRule(ctx, rs, in.Body.ID, engine.RuleBacktestOptions{Days: days})
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, fmt.Sprintf("backtest %s: %v", in.Body.ID, err))
			}
			res.File = baseName(res.File)
			for i := range res.Examples {
				x := &res.Examples[i]
				x.Object, x.FileName = s.ruleScrub(c, x.User, x.Object), s.ruleScrub(c, x.User, x.FileName)
				for j := range x.Steps {
					x.Steps[j] = s.ruleScrub(c, x.User, x.Steps[j])
				}
				x.User = s.ruleUser(c, x.User)
			}
			return reply(*res)
		})
}
