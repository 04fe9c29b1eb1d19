package ui

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"irm/engine"
)

// Start scoring users (Purview's "Start scoring activity for users"): an admin puts
// chosen users in scope of chosen policies for 5-30 days without a triggering event. The engine validates, stores and audits it (policies / scoring
// started); this page only parses and checks the form so that every problem can be
// named by line before anything changes.

const (
	scoringMinDays     = 5
	scoringMaxDays     = 30
	scoringDefaultDays = 30
	scoringMaxUsers    = 5000 // per submission
	scoringMaxReason   = 1000 // characters
	scoringMaxUPN      = 256  // characters
	scoringMaxErrors   = 20   // problems listed; the rest are counted
	scoringCSVHeader   = "user principal name"
)

// scoringForm is what the admin typed, echoed back when something is wrong.
type scoringForm struct {
	Users, Days, Reason string
	Policies            []string // the chosen policies' names
}

type scoringView struct {
	Form     scoringForm
	Policies []string // enabled policies to choose from
	Errors   []string
	Done     *scoringResult      // the submission that just succeeded
	InScope  []engine.ScoredUser // users whose start-scoring period runs now
}

// scoringResult is what the engine accepted.
type scoringResult struct {
	Days       int
	Until      time.Time
	Reason     string
	Users      []scoredUser
	Duplicates int
	Uncovered  int
}

type scoredUser struct {
	UPN      string
	Policies []string // chosen policies whose users include the UPN
}

func (s *server) showScoring(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.render(w, r, http.StatusOK, scoringPage(s.page(r, c, "Start scoring users"), scoringView{Form: scoringForm{Days: itoa(scoringDefaultDays)},
		Policies: s.enabledPolicies(), InScope: s.eng.ScoredUsers()}))
}

// enabledPolicies are the names of the policies that score (the ones to choose from).
func (s *server) enabledPolicies() []string {
	var out []string
	for _, p := range s.eng.Policies() {
		if p.Enabled {
			out = append(out, p.Name)
		}
	}
	return out
}

func (s *server) startScoring(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	_ = r.ParseForm()
	f := scoringForm{Users: r.PostFormValue("users"), Days: r.PostFormValue("days"), Reason: r.PostFormValue("reason"), Policies: r.PostForm["policy"]}
	enabled := s.enabledPolicies()
	users, dups, days, reason, problems := parseScoringForm(f)
	problems = append(problems, checkScoringPolicies(f.Policies, enabled)...)
	if len(problems) > 0 {
		s.render(w, r, http.StatusBadRequest, scoringPage(s.page(r, c, "Start scoring users"), scoringView{Form: f, Policies: enabled, Errors: problems, InScope: s.eng.ScoredUsers()}))
		return
	}
	if err := s.eng.StartScoring(c.Account.Name, users, f.Policies, days, reason); err != nil {
		// The form was checked above, so this is the engine or the store failing; keep
		// what the admin typed.
		s.log.Error("ui: start scoring", "user", c.Account.Name, "users", len(users), "err", err)
		s.render(w, r, http.StatusInternalServerError, scoringPage(s.page(r, c, "Start scoring users"),
			scoringView{Form: f, Policies: enabled, Errors: []string{"Not started: " + err.Error()}}))
		return
	}
	res := &scoringResult{Days: days, Until: s.now().UTC().Add(time.Duration(days) * 24 * time.Hour), Reason: reason, Duplicates: dups}
	var chosen []engine.Policy
	for _, p := range s.eng.Policies() {
		if slices.Contains(f.Policies, p.Name) {
			chosen = append(chosen, p)
		}
	}
	st := s.eng.Settings()
	for _, u := range users {
		su := scoredUser{UPN: u, Policies: coveringPolicies(chosen, &st, u)}
		if len(su.Policies) == 0 {
			res.Uncovered++
		}
		res.Users = append(res.Users, su)
	}
	// A fresh form: reloading the result should not look like an invitation to resend.
	s.render(w, r, http.StatusOK, scoringPage(s.page(r, c, "Start scoring users"),
		scoringView{Form: scoringForm{Days: itoa(scoringDefaultDays)}, Policies: enabled, Done: res, InScope: s.eng.ScoredUsers()}))
}

// checkScoringPolicies: at least one policy, each an enabled one.
func checkScoringPolicies(chosen, enabled []string) []string {
	if len(chosen) == 0 {
		return []string{"Policies: choose at least one policy to score the users by."}
	}
	var out []string
	for _, name := range chosen {
		if !slices.Contains(enabled, name) {
			out = append(out, fmt.Sprintf("Policies: %s is not an enabled policy.", quoteValue(name)))
		}
	}
	return out
}

// parseScoringForm checks the whole form and returns every problem, each naming its
// field and, for users, the line and the value.
func parseScoringForm(f scoringForm) (users []string, dups, days int, reason string, problems []string) {
	users, dups, problems = parseScoringUsers(f.Users)
	days, err := strconv.Atoi(strings.TrimSpace(f.Days))
	if err != nil || days < scoringMinDays || days > scoringMaxDays {
		problems = append(problems, fmt.Sprintf("Days: enter a whole number from %d to %d, not %s.", scoringMinDays, scoringMaxDays, quoteValue(f.Days)))
	}
	reason = strings.TrimSpace(f.Reason)
	switch {
	case reason == "":
		problems = append(problems, "Reason: a reason is required; it is kept in the audit log and shown on the users' alerts.")
	case len([]rune(reason)) > scoringMaxReason:
		problems = append(problems, fmt.Sprintf("Reason: at most %d characters, not %d.", scoringMaxReason, len([]rune(reason))))
	}
	return users, dups, days, reason, problems
}

// parseScoringUsers reads the users box: one UPN per line (commas and semicolons also
// separate), or Purview's CSV with a "User Principal Name" column (any other columns are
// ignored). It returns the lower-cased UPNs in order without duplicates, how many
// duplicates were dropped, and one problem per bad line (at most scoringMaxErrors, then
// a count of the rest).
func parseScoringUsers(text string) (users []string, dups int, problems []string) {
	text = strings.TrimPrefix(text, "\uFEFF") // a BOM from a spreadsheet's CSV export
	var bad []string
	add := func(line int, v string) {
		v = strings.TrimSpace(v)
		if v == "" {
			return
		}
		u := strings.ToLower(v)
		if err := checkUPN(u); err != nil {
			bad = append(bad, fmt.Sprintf("Users, line %d: %s %v.", line, quoteValue(v), err))
			return
		}
		if slices.Contains(users, u) {
			dups++
			return
		}
		users = append(users, u)
	}
	if col, ok := csvHeader(text); ok {
		readScoringCSV(text, col, add, func(msg string) { bad = append(bad, msg) })
	} else {
		for i, line := range strings.Split(text, "\n") {
			for _, v := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ';' }) {
				add(i+1, v)
			}
		}
	}
	switch {
	case len(bad) == 0 && len(users) == 0:
		bad = append(bad, "Users: enter at least one UPN (name@domain), one per line.")
	case len(users) > scoringMaxUsers:
		bad = append(bad, fmt.Sprintf("Users: at most %d users at a time, not %d; split the list.", scoringMaxUsers, len(users)))
	}
	if len(bad) > scoringMaxErrors {
		more := len(bad) - scoringMaxErrors
		bad = append(bad[:scoringMaxErrors:scoringMaxErrors], fmt.Sprintf("… and %d more problems.", more))
	}
	return users, dups, bad
}

// csvHeader reports whether the first non-blank line is a CSV header with a "User
// Principal Name" column, and that column's index.
func csvHeader(text string) (int, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		rd := csv.NewReader(strings.NewReader(line))
		rd.FieldsPerRecord, rd.LazyQuotes = -1, true
		rec, err := rd.Read()
		if err != nil {
			return 0, false
		}
		for i, f := range rec {
			if strings.EqualFold(strings.TrimSpace(f), scoringCSVHeader) {
				return i, true
			}
		}
		return 0, false
	}
	return 0, false
}

// readScoringCSV calls add with the UPN column of every row after the header, and
// problem for a row without that column or for CSV it cannot read (reading stops there:
// after a broken quote the line numbers would mislead).
func readScoringCSV(text string, col int, add func(line int, v string), problem func(string)) {
	rd := csv.NewReader(strings.NewReader(text))
	rd.FieldsPerRecord = -1 // rows may be ragged; only the UPN column matters
	rd.TrimLeadingSpace = true
	for header := true; ; header = false {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
				problem(fmt.Sprintf("Users, line %d: not valid CSV (%v); nothing after it was read.", pe.Line, pe.Err))
			} else {
				problem(fmt.Sprintf("Users: not valid CSV (%v).", err))
			}
			return
		}
		if header {
			continue
		}
		if col >= len(rec) {
			line, _ := rd.FieldPos(0)
			problem(fmt.Sprintf("Users, line %d: the row has no User Principal Name value (column %d).", line, col+1))
			continue
		}
		line, _ := rd.FieldPos(col)
		add(line, rec[col])
	}
}

// checkUPN accepts a lower-cased user principal name as Microsoft Entra allows it: a
// name of letters, digits and ' . - _ ! # ^ ~, an @, and a DNS domain.
func checkUPN(u string) error {
	if len(u) > scoringMaxUPN {
		return fmt.Errorf("is longer than %d characters", scoringMaxUPN)
	}
	name, domain, ok := strings.Cut(u, "@")
	switch {
	case !ok:
		return errors.New("is not a UPN (name@domain): it has no @")
	case strings.Contains(domain, "@"):
		return errors.New("is not a UPN (name@domain): it has more than one @")
	case name == "":
		return errors.New("is not a UPN: nothing before the @")
	case domain == "":
		return errors.New("is not a UPN: no domain after the @")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("'.-_!#^~", r)) {
			return fmt.Errorf("is not a UPN: %s is not allowed before the @ (letters, digits and ' . - _ ! # ^ ~ are)", quoteRune(r))
		}
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("is not a UPN: %s is not a domain name", quoteValue(domain))
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("is not a UPN: %s is not allowed in the domain", quoteRune(r))
			}
		}
	}
	return nil
}

// quoteValue quotes a typed value for an error message, shortened and with control
// characters escaped (templ escapes the markup).
func quoteValue(v string) string {
	if r := []rune(v); len(r) > 80 {
		v = string(r[:80]) + "…"
	}
	return strconv.Quote(v)
}

func quoteRune(r rune) string {
	if r == ' ' {
		return "a space"
	}
	return strconv.QuoteRune(r)
}

// coveringPolicies lists the enabled policies of pols whose users include upn (the
// engine's Policy.Covers; only enabled policies score).
func coveringPolicies(pols []engine.Policy, st *engine.Settings, upn string) []string {
	var out []string
	for _, p := range pols {
		if p.Enabled && p.Covers(upn, st) {
			out = append(out, p.Name)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
