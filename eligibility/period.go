package eligibility

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// period is a calendar period from the rulebook: "365d", "40d", "6m" or "1y".
// Months and years are calendar months (time.AddDate), because Rule 144's "six
// months" ends on the same day of the month, whatever the month's length.
type period struct {
	months int
	days   int
}

var periodPattern = regexp.MustCompile(`^([1-9][0-9]{0,4})([dmy])$`)

// parsePeriod reads "<n>d", "<n>m" or "<n>y" with n ≥ 1.
func parsePeriod(s string) (period, error) {
	m := periodPattern.FindStringSubmatch(s)
	if m == nil {
		return period{}, fmt.Errorf("%q is not a period such as \"365d\", \"6m\" or \"1y\"", s)
	}
	n, err := strconv.Atoi(m[1])
	assert(err == nil, "period digits %q", m[1])
	switch m[2] {
	case "d":
		if n > MaxPeriodDays {
			return period{}, fmt.Errorf("%q is above the limit of %dd", s, MaxPeriodDays)
		}
		return period{days: n}, nil
	case "m":
		if n > MaxPeriodMonths {
			return period{}, fmt.Errorf("%q is above the limit of %dm", s, MaxPeriodMonths)
		}
		return period{months: n}, nil
	}
	if n*12 > MaxPeriodMonths {
		return period{}, fmt.Errorf("%q is above the limit of %dy", s, MaxPeriodMonths/12)
	}
	return period{months: n * 12}, nil
}

// end is the instant the period that starts at t ends, in UTC.
func (p period) end(t time.Time) time.Time {
	return t.UTC().AddDate(0, p.months, p.days)
}

// upperBound is the longest the period can last: exact for days, 31 days a
// month otherwise.
func (p period) upperBound() time.Duration {
	return time.Duration(p.months*31+p.days) * 24 * time.Hour
}

func (p period) String() string {
	switch {
	case p.months == 0:
		return fmt.Sprintf("%d-day", p.days)
	case p.days == 0 && p.months%12 == 0:
		return fmt.Sprintf("%d-year", p.months/12)
	case p.days == 0:
		return fmt.Sprintf("%d-month", p.months)
	}
	return fmt.Sprintf("%d-month %d-day", p.months, p.days)
}

// when formats an instant for a message: the date, and the time of day when
// it is not midnight UTC.
func when(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04:05 UTC")
}
