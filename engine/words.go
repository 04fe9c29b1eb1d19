package engine

import (
	"fmt"
	"strings"
	"time"
)

// Words for the values the engine stores as identifiers: the UI, the API's titles and
// the CLI show these, so a person reads "needs review" and "above the user's usual
// activity" rather than needs_review and above_usual_activity.

var statusWords = map[string]string{
	StatusNeedsReview: "needs review",
	StatusConfirmed:   "confirmed",
	StatusDismissed:   "dismissed",
	StatusResolved:    "resolved",
}

// StatusWords is an alert status in words.
func StatusWords(s string) string {
	if w, ok := statusWords[s]; ok {
		return w
	}
	return s
}

var factorWords = map[string]string{
	FactorSequence:      "a sequence of risky steps",
	FactorCumulative:    "cumulative exfiltration above the organisation's norm",
	FactorPriority:      "priority content",
	FactorUnallowed:     "an unallowed domain",
	FactorPriorityUser:  "a priority user",
	FactorAboveUsual:    "above the user's usual activity",
	BoosterPreviousCase: "a previous case confirmed as a violation",
}

// RiskFactors lists the risk factors in the order the UI offers them as filters.
var RiskFactors = []string{FactorSequence, FactorCumulative, FactorPriority, FactorUnallowed, FactorPriorityUser, FactorAboveUsual}

// FactorWords is a risk factor or booster in words.
func FactorWords(f string) string {
	if w, ok := factorWords[f]; ok {
		return w
	}
	return strings.ReplaceAll(f, "_", " ")
}

var resolutionWords = map[string]string{ResolutionBenign: "benign", ResolutionViolation: "confirmed policy violation"}

// ResolutionWords is a case resolution in words.
func ResolutionWords(r string) string {
	if w, ok := resolutionWords[r]; ok {
		return w
	}
	return r
}

var kindWords = map[string]string{"indicator": "activity", "sequence": "sequence", "cumulative": "cumulative exfiltration"}

// KindWords is an insight kind in words.
func KindWords(k string) string {
	if w, ok := kindWords[k]; ok {
		return w
	}
	return k
}

// DurationWords says a duration the way a person would: "7 days", "36 hours",
// "90 minutes" (never Go's 168h0m0s).
func DurationWords(d time.Duration) string {
	switch {
	case d <= 0:
		return "no time"
	case d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int(d.Round(time.Minute)/time.Minute), "minute")
	}
	return plural(int(d.Round(time.Second)/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// DayWords shows a YYYY-MM-DD day as "Tue 3 Nov 2026"; anything else unchanged.
func DayWords(day string) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	return t.Format("Mon 2 Jan 2006")
}

// TopInsight is the insight that weighs most in the alert's score: the scored insight
// with the most points (ties: the latest day), or nil.
func TopInsight(a *Alert) *Insight {
	var top *Insight
	for i := range a.Insights {
		in := &a.Insights[i]
		if top == nil || (in.Scored && !top.Scored) || (in.Scored == top.Scored && (in.Points > top.Points || (in.Points == top.Points && in.Day > top.Day))) {
			top = in
		}
	}
	return top
}

// AlertTitle is a one-line title in words: the policy and the strongest insight, e.g.
// `Data theft: Copying files to USB, 14 on Tue 3 Nov 2026 (high)`.
func AlertTitle(a *Alert) string {
	in := TopInsight(a)
	if in == nil {
		return a.Policy
	}
	return a.Policy + ": " + InsightPhrase(in)
}

// InsightPhrase is the short form of an insight: what, how many, when, how far.
func InsightPhrase(in *Insight) string {
	switch in.Kind {
	case "sequence":
		return fmt.Sprintf("%s on %s (%s)", in.Name, DayWords(in.Day), in.Level)
	case "cumulative":
		return fmt.Sprintf("%s, %d in 30 days to %s (%s)", in.Name, in.Count, DayWords(in.Day), in.Level)
	}
	return fmt.Sprintf("%s, %d on %s (%s)", in.Name, in.Count, DayWords(in.Day), in.Level)
}

// InsightSentence explains one insight in one plain sentence: what happened, how
// much against the thresholds and the user's usual, and what raised its weight.
func InsightSentence(in *Insight) string {
	var b strings.Builder
	switch in.Kind {
	case "sequence":
		fmt.Fprintf(&b, "On %s the user went through the steps of %q", DayWords(in.Day), in.Name)
		if in.Count > 1 {
			fmt.Fprintf(&b, " (%d times)", in.Count)
		}
	case "cumulative":
		fmt.Fprintf(&b, "In the 30 days to %s the user's exfiltration activity added up to %d events", DayWords(in.Day), in.Count)
	default:
		fmt.Fprintf(&b, "On %s: %d × %s", DayWords(in.Day), in.Count, strings.ToLower(in.Name))
		if th := in.Thresholds; th[0] > 0 || th[1] > 0 || th[2] > 0 {
			fmt.Fprintf(&b, " (thresholds %d low, %d medium, %d high)", th[0], th[1], th[2])
		}
	}
	fmt.Fprintf(&b, ", a %s level", in.Level)
	if in.Detail != "" {
		fmt.Fprintf(&b, "; %s", in.Detail)
	}
	if len(in.Boosters) > 0 {
		ws := make([]string, len(in.Boosters))
		for i, bo := range in.Boosters {
			ws[i] = FactorWords(bo)
		}
		fmt.Fprintf(&b, "; weighed up for %s", strings.Join(ws, " and "))
	}
	if in.PriorityCount > 0 {
		fmt.Fprintf(&b, "; %d of the events touched priority content", in.PriorityCount)
	}
	fmt.Fprintf(&b, ". %d points", in.Points)
	if !in.Scored {
		b.WriteString(", shown for context (outside the week that gives the score)")
	}
	b.WriteString(".")
	return b.String()
}
