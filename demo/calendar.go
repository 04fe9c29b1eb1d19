package demo

import (
	"time"
)

// The organisation's calendar. Days are local days in Options.TimeZone: a user's 09:00
// is 09:00 on the office clock, and every record is written in UTC as the Office 365
// exports do. Day d is the d-th day of the window (0 = the first day, L = Days-1 the
// last); days past L exist for HR dates (a last working day after the window).

// extraDays is how far past the window the calendar reaches: far enough for a notice
// period that ends after the window.
const extraDays = 80

type calendar struct {
	loc   *time.Location
	first time.Time // the first local date, at 00:00 UTC
	days  int       // days in the window

	// dayStart[d] is the Unix time of 00:00 local on day d, d in [0, days+extraDays).
	// It is taken as noon minus twelve hours, so that on a day the clocks change the
	// working hours are exact (the change happens at night).
	dayStart []int64
	// utcBase is 00:00 UTC two days before the first day; utcPrefix[i] is the
	// "YYYY-MM-DDT" of the UTC day utcBase+i, so formatting a time needs no time.Time.
	utcBase   int64
	utcPrefix [][]byte

	// everyDayWorks: the clean background treats every day as a working day.
	everyDayWorks bool
	work          []bool // an organisation working day: a weekday and not a holiday
	holiday       []bool
	// back[k] is the day of the k-th working day before L (back[0] = the last working
	// day on or before L); fwd[k] the k-th working day after L (fwd[0] unused).
	back, fwd []int
}

func newCalendar(first time.Time, days int, loc *time.Location, everyDayWorks bool) *calendar {
	c := &calendar{loc: loc, first: first, days: days, everyDayWorks: everyDayWorks}
	n := days + extraDays
	c.dayStart = make([]int64, n)
	c.work = make([]bool, n)
	c.holiday = make([]bool, n)
	for d := range n {
		date := first.AddDate(0, 0, d)
		noon := time.Date(date.Year(), date.Month(), date.Day(), 12, 0, 0, 0, loc)
		c.dayStart[d] = noon.Unix() - 12*3600
		wd := date.Weekday()
		c.holiday[d] = !everyDayWorks && isHoliday(date)
		c.work[d] = everyDayWorks || (wd != time.Saturday && wd != time.Sunday && !c.holiday[d])
	}
	c.utcBase = first.AddDate(0, 0, -2).Unix()
	for i := 0; i < n+4; i++ {
		c.utcPrefix = append(c.utcPrefix, []byte(time.Unix(c.utcBase+int64(i)*86400, 0).UTC().Format("2006-01-02T")))
	}
	L := days - 1
	for d := L; d >= 0; d-- {
		if c.work[d] {
			c.back = append(c.back, d)
		}
	}
	c.fwd = []int{L}
	for d := L + 1; d < n; d++ {
		if c.work[d] {
			c.fwd = append(c.fwd, d)
		}
	}
	return c
}

// at is the day k working days before the last day L (k < 0: after it). In the clean
// background every day is a working day, so at(k) = L-k. Before the first day it
// returns the first day.
func (c *calendar) at(k int) int {
	switch {
	case k >= len(c.back):
		return 0
	case k >= 0:
		return c.back[k]
	case -k < len(c.fwd):
		return c.fwd[-k]
	}
	return c.fwd[len(c.fwd)-1]
}

// workdaysIn counts the organisation's working days in [from, to].
func (c *calendar) workdaysIn(from, to int) int {
	n := 0
	for d := max(from, 0); d <= to && d < len(c.work); d++ {
		if c.work[d] {
			n++
		}
	}
	return n
}

func (c *calendar) weekend(d int) bool {
	wd := c.first.AddDate(0, 0, d).Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// unix is the Unix time of secs seconds after 00:00 local on day d.
func (c *calendar) unix(d, secs int) int64 { return c.dayStart[d] + int64(secs) }

// appendUTC writes the time as "YYYY-MM-DDThh:mm:ssZ" (quoted).
func (c *calendar) appendUTC(b []byte, t int64) []byte {
	rel := t - c.utcBase
	day, s := rel/86400, int(rel%86400)
	b = append(b, '"')
	b = append(b, c.utcPrefix[day]...)
	b = append2(b, s/3600)
	b = append(b, ':')
	b = append2(b, s/60%60)
	b = append(b, ':')
	b = append2(b, s%60)
	b = append(b, timeSuffix...)
	return append(b, '"')
}

func (c *calendar) rfc3339(d, secs int) string {
	return time.Unix(c.unix(d, secs), 0).UTC().Format(time.RFC3339)
}

func (c *calendar) date(d int) string { return c.first.AddDate(0, 0, d).Format("2006-01-02") }

// isHoliday is the organisation's published holiday calendar: the common public
// holidays of a Western European office (New Year, Good Friday, Easter Monday, Labour
// Day, Ascension, Whit Monday, Christmas Eve to Boxing Day, New Year's Eve) and a
// company "recharge day" on the first Monday of every month, so that every window of a
// few weeks holds a few days off whatever its season.
func isHoliday(date time.Time) bool {
	m, d := date.Month(), date.Day()
	switch {
	case m == time.January && d == 1, m == time.May && d == 1,
		m == time.December && (d == 24 || d == 25 || d == 26 || d == 31):
		return true
	case date.Weekday() == time.Monday && d <= 7:
		return true
	}
	easter := easterSunday(date.Year())
	for _, off := range []int{-2, 1, 39, 50} {
		h := easter.AddDate(0, 0, off)
		if h.Month() == m && h.Day() == d {
			return true
		}
	}
	return false
}

// easterSunday is the Gregorian Easter date (the anonymous Gregorian algorithm).
func easterSunday(y int) time.Time {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}
