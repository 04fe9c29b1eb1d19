package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"irm/engine"
)

// The activity timeline, drawn on the server as SVG (no script): one row per indicator
// category with a dot per day sized by the day's events, the marks of thresholds
// crossed, and the risk score as a line under them with the severity cut-offs.

type svgDot struct {
	X, Y, R, Title string
}

type svgMark struct {
	Points, Class, Title string
}

type svgLabel struct {
	X, Y, Text, Anchor string
}

type svgLine struct {
	X1, Y1, X2, Y2, Class string
}

type timelineSVG struct {
	Width, Height, ViewBox string
	Rows                   []svgLabel
	Dots                   []svgDot
	Marks                  []svgMark
	Score                  string // polyline points
	Guides                 []svgLine
	GuideLabels            []svgLabel
	Ticks                  []svgLabel
	Grid                   []svgLine
	Active                 []svgLine
	Empty                  bool
	Summary                string // the same in words, for screen readers and tests
}

const (
	tlWidth  = 1000.0
	tlLeft   = 150.0
	tlRight  = 12.0
	tlRow    = 26.0
	tlTop    = 14.0
	tlScoreH = 90.0
)

func f1(x float64) string { return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64) }

func layoutTimeline(tl engine.Timeline) timelineSVG {
	n := len(tl.Days)
	var v timelineSVG
	if n == 0 {
		v.Empty = true
		return v
	}
	dx := (tlWidth - tlLeft - tlRight) / float64(n)
	x := func(d int) float64 { return tlLeft + (float64(d)+0.5)*dx }
	maxCount := 1
	total := 0
	for _, row := range tl.Counts {
		for _, c := range row {
			maxCount = max(maxCount, c)
			total += c
		}
	}
	rMax := math.Min(11, dx*0.9+2)
	for i, cat := range tl.Categories {
		y := tlTop + float64(i)*tlRow + tlRow/2
		v.Rows = append(v.Rows, svgLabel{X: f1(tlLeft - 8), Y: f1(y + 4), Text: cat, Anchor: "end"})
		v.Grid = append(v.Grid, svgLine{X1: f1(tlLeft), Y1: f1(y), X2: f1(tlWidth - tlRight), Y2: f1(y), Class: "tl-grid"})
		for d, c := range tl.Counts[i] {
			if c == 0 {
				continue
			}
			r := 1.5 + (rMax-1.5)*math.Sqrt(float64(c)/float64(maxCount))
			v.Dots = append(v.Dots, svgDot{X: f1(x(d)), Y: f1(y), R: f1(r), Title: fmt.Sprintf("%s: %d %s events", engine.DayWords(tl.Days[d]), c, cat)})
		}
	}
	// Days with any activity, as a thin band.
	yAct := tlTop + float64(len(tl.Categories))*tlRow + 6
	v.Rows = append(v.Rows, svgLabel{X: f1(tlLeft - 8), Y: f1(yAct + 3), Text: "active", Anchor: "end"})
	for d, on := range tl.Active {
		if on {
			v.Active = append(v.Active, svgLine{X1: f1(x(d)), Y1: f1(yAct - 4), X2: f1(x(d)), Y2: f1(yAct + 4), Class: "tl-active"})
		}
	}
	// Thresholds crossed.
	yMark := yAct + 18
	v.Rows = append(v.Rows, svgLabel{X: f1(tlLeft - 8), Y: f1(yMark + 4), Text: "thresholds crossed", Anchor: "end"})
	stack := map[int]int{}
	for _, m := range tl.Marks {
		cx, cy := x(m.Day), yMark-float64(stack[m.Day])*3
		stack[m.Day]++
		s := math.Max(4, math.Min(7, dx/2))
		v.Marks = append(v.Marks, svgMark{
			Points: f1(cx) + "," + f1(cy-s) + " " + f1(cx+s) + "," + f1(cy+s) + " " + f1(cx-s) + "," + f1(cy+s),
			Class:  "tl-mark " + m.Level, Title: fmt.Sprintf("%s: %s reached %s (%d points)", engine.DayWords(tl.Days[m.Day]), m.Name, m.Level, m.Points)})
	}
	// The score.
	yBase := yMark + 24 + tlScoreH
	yOf := func(s int) float64 { return yBase - float64(s)*tlScoreH/100 }
	v.Rows = append(v.Rows, svgLabel{X: f1(tlLeft - 8), Y: f1(yBase - tlScoreH/2), Text: "risk score", Anchor: "end"})
	for _, g := range []struct {
		score int
		label string
	}{{engine.HighScore, "high"}, {engine.MediumScore, "medium"}, {engine.AlertCutoff[engine.VolumeDefault], "alert"}, {0, ""}} {
		v.Guides = append(v.Guides, svgLine{X1: f1(tlLeft), Y1: f1(yOf(g.score)), X2: f1(tlWidth - tlRight), Y2: f1(yOf(g.score)), Class: "tl-guide"})
		if g.label != "" {
			v.GuideLabels = append(v.GuideLabels, svgLabel{X: f1(tlLeft + 2), Y: f1(yOf(g.score) - 2), Text: g.label + " " + strconv.Itoa(g.score)})
		}
	}
	var pts []string
	peak, peakDay := 0, 0
	for d, s := range tl.Score {
		pts = append(pts, f1(x(d))+","+f1(yOf(s)))
		if s > peak {
			peak, peakDay = s, d
		}
	}
	v.Score = strings.Join(pts, " ")
	// Date ticks: about eight.
	step := max(1, n/8)
	for d := 0; d < n; d += step {
		v.Ticks = append(v.Ticks, svgLabel{X: f1(x(d)), Y: f1(yBase + 16), Text: tl.Days[d][5:], Anchor: "middle"})
	}
	h := yBase + 24
	v.Width, v.Height = f1(tlWidth), f1(h)
	v.ViewBox = "0 0 " + f1(tlWidth) + " " + f1(h)
	v.Summary = fmt.Sprintf("%d days from %s to %s: %d indicator events in %d categories, %d thresholds crossed", n, tl.Days[0], tl.Days[n-1],
		total, len(tl.Categories), len(tl.Marks))
	if peak > 0 {
		v.Summary += fmt.Sprintf(", highest score %d on %s", peak, tl.Days[peakDay])
	}
	v.Summary += "."
	return v
}
