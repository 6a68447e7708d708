package backup

import (
	"fmt"
	"time"

	"thecure/appliance/config"
)

// Policy is restic's --keep-last/--keep-daily/--keep-weekly: a backup kept by
// any rule stays. The zero policy keeps everything.
type Policy struct {
	Last, Daily, Weekly int
	Loc                 *time.Location // days and weeks are counted in this zone; nil is UTC
}

// PolicyOf turns the config's retention into a policy in local time.
func PolicyOf(r config.Retention, loc *time.Location) Policy {
	return Policy{Last: r.KeepLast, Daily: r.KeepDaily, Weekly: r.KeepWeekly, Loc: loc}
}

// Keep returns the IDs to keep among complete backups sorted oldest first.
func (p Policy) Keep(list []Info) map[string]bool {
	keep := map[string]bool{}
	if p.Last == 0 && p.Daily == 0 && p.Weekly == 0 {
		for _, in := range list {
			keep[in.ID] = true
		}
		return keep
	}
	loc := p.Loc
	if loc == nil {
		loc = time.UTC
	}
	last, daily, weekly := p.Last, p.Daily, p.Weekly
	var lastDay, lastWeek string
	for i := len(list) - 1; i >= 0; i-- { // newest first
		in := list[i]
		t := in.Time.In(loc)
		if last > 0 {
			keep[in.ID] = true
			last--
		}
		if day := t.Format(time.DateOnly); daily > 0 && day != lastDay {
			keep[in.ID] = true
			lastDay = day
			daily--
		}
		y, w := t.ISOWeek()
		if week := fmt.Sprintf("%d-%02d", y, w); weekly > 0 && week != lastWeek {
			keep[in.ID] = true
			lastWeek = week
			weekly--
		}
	}
	return keep
}
