package webui

import (
	"cmp"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"thecure/appliance/health"
)

// failure is one entry of the admin page's recent failures.
type failure struct {
	When  time.Time `json:"when"`
	What  string    `json:"what"`
	Error string    `json:"error"`
}

// diskUse is one file system's use.
type diskUse struct {
	Label string `json:"label"`
	Path  string `json:"path"`
	Size  uint64 `json:"size"`
	Used  uint64 `json:"used"`
	Free  uint64 `json:"free"` // available to unprivileged users
	Pct   int    `json:"used_percent"`
	Error string `json:"error,omitempty"`
}

// statusView is the admin page and /api/status. A nil list means that part
// of the appliance is not available (not wired or failing).
type statusView struct {
	Services []health.Service `json:"services"`
	Live     []Stream         `json:"live"`
	Relays   []Relay          `json:"relays"`
	Queue    []Job            `json:"queue"`
	Failures []failure        `json:"failures"`
	Disks    []diskUse        `json:"disks"`
	Tickets  []Ticket         `json:"tickets"`
	Version  string           `json:"version,omitempty"`
	Updated  time.Time        `json:"updated"`
	Charts   bool             `json:"-"` // the page draws charts
}

// maxRecent bounds the finished jobs and failures shown.
const maxRecent = 10

func (u *UI) status(r *http.Request) statusView {
	ctx := r.Context()
	v := statusView{Version: u.o.Version, Updated: u.now(), Failures: []failure{}, Charts: u.o.Charts != nil}
	if u.o.Health != nil {
		v.Services = u.o.Health.Snapshot()
		for _, s := range v.Services {
			if !s.State.OK() {
				v.Failures = append(v.Failures, failure{When: s.Since, What: s.Name + " (" + string(s.State) + ")", Error: s.Detail})
			}
		}
	}
	if u.o.Live != nil {
		v.Live = u.o.Live.Streams()
		if v.Live == nil {
			v.Live = []Stream{}
		}
	}
	if u.o.Relays != nil {
		v.Relays = u.o.Relays.Relays()
		if v.Relays == nil {
			v.Relays = []Relay{}
		}
	}
	if u.o.Jobs != nil {
		jobs, err := u.o.Jobs.Jobs(ctx)
		if err != nil {
			u.log.Warn("admin: jobs", "err", err)
		} else {
			v.Queue = queue(jobs)
			for _, j := range jobs {
				if j.State == StateFailed {
					v.Failures = append(v.Failures, failure{When: j.Updated, What: j.Source, Error: j.Error})
				}
			}
		}
	}
	if u.o.Catalogue != nil {
		titles, err := u.o.Catalogue.Titles(ctx)
		if err != nil {
			u.log.Warn("admin: catalogue", "err", err)
		}
		for _, t := range titles {
			if (t.State == StateFailed || t.State == "missing") && !slices.ContainsFunc(v.Failures, func(f failure) bool { return f.What == t.Source && t.Source != "" }) {
				v.Failures = append(v.Failures, failure{When: t.Updated, What: cmp.Or(t.Source, t.Title), Error: t.Error})
			}
		}
	}
	slices.SortStableFunc(v.Failures, func(a, b failure) int { return b.When.Compare(a.When) })
	if len(v.Failures) > maxRecent {
		v.Failures = v.Failures[:maxRecent]
	}
	if u.o.Tickets != nil {
		ts, err := u.o.Tickets.OpenTickets(ctx)
		if err != nil {
			u.log.Warn("admin: tickets", "err", err)
		} else {
			v.Tickets = ts
			if v.Tickets == nil {
				v.Tickets = []Ticket{}
			}
		}
	}
	v.Disks = statDisks(u.o.Disks)
	return v
}

// queue is the jobs not finished yet (oldest first), then the latest
// finished ones.
func queue(jobs []Job) []Job {
	out := []Job{}
	var done []Job
	for _, j := range jobs {
		switch j.State {
		case "done", "ready":
			done = append(done, j)
		case StateFailed:
		default:
			out = append(out, j)
		}
	}
	slices.SortStableFunc(done, func(a, b Job) int { return b.Updated.Compare(a.Updated) })
	if len(done) > maxRecent {
		done = done[:maxRecent]
	}
	return append(out, done...)
}

// statDisks reports each file system once: paths on the same one share a
// row, their labels joined.
func statDisks(ds []Disk) []diskUse {
	var out []diskUse
	seen := map[[2]int32]int{} // file system id -> row
	for _, d := range ds {
		use, fsid := statDisk(d)
		if i, ok := seen[fsid]; ok && use.Error == "" {
			out[i].Label += ", " + d.Label
			continue
		}
		if use.Error == "" {
			seen[fsid] = len(out)
		}
		out = append(out, use)
	}
	return out
}

func statDisk(d Disk) (diskUse, [2]int32) {
	out := diskUse{Label: d.Label, Path: d.Path}
	var st syscall.Statfs_t
	// A folder not made yet (the backups before the first one) will be on
	// the file system of its nearest existing parent.
	p := d.Path
	err := syscall.Statfs(p, &st)
	for errors.Is(err, syscall.ENOENT) && filepath.Dir(p) != p {
		p = filepath.Dir(p)
		err = syscall.Statfs(p, &st)
	}
	if err != nil {
		out.Error = err.Error()
		return out, [2]int32{}
	}
	bs := uint64(st.Bsize)
	out.Size, out.Free = st.Blocks*bs, st.Bavail*bs
	out.Used = out.Size - st.Bfree*bs
	if d := out.Used + out.Free; d > 0 { // as df counts: blocks reserved for root are left out
		out.Pct = int((out.Used*100 + d - 1) / d)
	}
	return out, st.Fsid.X__val
}

func (u *UI) adminPage(w http.ResponseWriter, r *http.Request) {
	v := u.status(r)
	if r.URL.Query().Get("fragment") == "1" {
		u.exec(w, http.StatusOK, "admin", "status", v)
		return
	}
	u.render(w, r, http.StatusOK, "admin", u.tr.t("admin.title"), v)
}

func (u *UI) apiStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, u.status(r))
}
