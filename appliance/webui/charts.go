package webui

import (
	"net/http"
	"strconv"
	"time"
)

// Charts serves the series the charts draw: the sampled /metrics since a
// time, as a JSON-encodable value (package sampler's Window).
type Charts interface {
	Window(since time.Time) any
}

// chartRanges are the spans the charts page offers, in seconds.
var chartRanges = []int{3600, 6 * 3600, 24 * 3600}

// apiCharts answers GET /api/charts?range=SECONDS (default 1 h, at most
// 24 h): the series of the last range.
func (u *UI) apiCharts(w http.ResponseWriter, r *http.Request) {
	if u.o.Charts == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": u.tr.t("admin.na")})
		return
	}
	span := 3600
	if s := r.URL.Query().Get("range"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 24*3600 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "range: seconds, 1 to 86400"})
			return
		}
		span = n
	}
	writeJSON(w, http.StatusOK, u.o.Charts.Window(u.now().Add(-time.Duration(span)*time.Second)))
}

// chartsView is the charts page.
type chartsView struct {
	Range  int
	Ranges []int
	Avail  bool
}

// chartsPage is /admin/charts?range=SECONDS: every chart, full width.
func (u *UI) chartsPage(w http.ResponseWriter, r *http.Request) {
	v := chartsView{Range: 3600, Ranges: chartRanges, Avail: u.o.Charts != nil}
	if n, err := strconv.Atoi(r.URL.Query().Get("range")); err == nil && n > 0 && n <= 24*3600 {
		v.Range = n
	}
	u.render(w, r, http.StatusOK, "charts", u.tr.t("charts.title"), v)
}
