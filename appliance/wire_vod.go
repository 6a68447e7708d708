package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"thecure/appliance/bot"
	"thecure/appliance/config"
	"thecure/appliance/control"
	"thecure/appliance/library"
	"thecure/appliance/transcode"
	"thecure/appliance/webui"
)

// The support bot reads the queue and the catalogue through its interfaces.
var (
	_ bot.Jobs      = (*transcode.Queue)(nil)
	_ bot.Catalogue = botTitles{}
)

// The FTPS ingest (appliance/ftps) hands finished uploads to the queue
// through this contract; the guard keeps the queue honest to it.
var _ interface {
	Enqueue(context.Context, string) error
	Remove(context.Context, string) error
} = (*transcode.Queue)(nil)

// wireVOD builds the catalogue and the transcode queue, serves /vod/,
// /api/library and /api/jobs, and runs the queue's workers.
func (a *app) wireVOD() error {
	mediaDir, err := filepath.Abs(a.cfg.Path(a.cfg.Library.MediaDir))
	if err != nil {
		return fmt.Errorf("library.media_dir: %w", err)
	}
	hlsDir, err := filepath.Abs(a.cfg.Path(a.cfg.Library.HLSDir))
	if err != nil {
		return fmt.Errorf("library.hls_dir: %w", err)
	}
	for _, d := range []string{mediaDir, hlsDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	a.catalogue = library.New(a.store, hlsDir)
	pub, err := a.wirePublish()
	if err != nil {
		return err
	}
	a.queue = transcode.New(a.store, a.catalogue, a.log.With("svc", "transcode"), a.health, a.reg, transcode.Options{
		MediaDir:  mediaDir,
		Folders:   a.cfg.FTP.Folders,
		Transcode: a.cfg.Transcode,
		HealthKey: "transcode",
		Alerter:   &a.alerts,
		Publisher: pub,
	})
	a.web.Handle("GET /vod/{id}/{file...}", a.catalogue.VODHandler())
	// admins (a web login of group admin) see failures in full, others
	// their short reasons (webui.AdminAware, wrapped in wireWebUI)
	a.web.Handle("GET /api/library", a.catalogue.APIHandler(webui.IsAdmin))
	a.web.Handle("GET /api/jobs", a.queue.JobsHandler(webui.IsAdmin))
	a.ctl.Handle("GET /library/titles", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		items, err := a.catalogue.List()
		if err != nil {
			control.Error(w, http.StatusInternalServerError, err)
			return
		}
		control.JSON(w, http.StatusOK, items)
	}))
	a.ctl.Handle("POST /library/remove", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req libraryRemoveRequest
		if err := control.DecodeJSON(r, &req); err != nil {
			control.Error(w, http.StatusBadRequest, err)
			return
		}
		it, err := a.queue.RemoveTitle(r.Context(), req.Title)
		switch {
		case errors.Is(err, transcode.ErrNoTitle):
			control.Error(w, http.StatusNotFound, err)
		case err != nil:
			control.Error(w, http.StatusInternalServerError, err)
		default:
			control.JSON(w, http.StatusOK, it)
		}
	}))
	a.add(service{name: "transcode", run: func(ctx context.Context, _ []net.Listener) error { return a.queue.Run(ctx) }})
	return nil
}

// libraryRemoveRequest is POST /library/remove: a title's id or source path.
type libraryRemoveRequest struct {
	Title string `json:"title"`
}

// botTitles shows the catalogue to the support bot: the latest ready titles.
type botTitles struct{ cat *library.Catalogue }

func (b botTitles) Recent(_ context.Context, n int) ([]bot.Title, int, error) {
	items, err := b.cat.List()
	if err != nil {
		return nil, 0, err
	}
	ready := items[:0]
	for _, it := range items {
		if it.State == library.StateReady {
			ready = append(ready, it)
		}
	}
	slices.SortStableFunc(ready, func(x, y library.Item) int { return y.Updated.Compare(x.Updated) })
	total := len(ready)
	var out []bot.Title
	for _, it := range ready[:min(n, total)] {
		t := bot.Title{Name: it.Title}
		switch it.Kind {
		case library.KindMovie:
			t.Kind = config.KindMovies
			if it.Year > 0 {
				t.Name = fmt.Sprintf("%s (%d)", it.Title, it.Year)
			}
		case library.KindEpisode:
			t.Kind = config.KindSeries
			t.Name = fmt.Sprintf("%s S%02dE%02d", it.Show, it.Season, it.Episode)
			if it.Title != "" && !strings.HasPrefix(it.Title, t.Name) {
				t.Name += " " + it.Title
			}
		case library.KindTrack:
			t.Kind = config.KindMusic
			if it.Artist != "" {
				t.Name = it.Artist + " - " + it.Title
			}
		}
		out = append(out, t)
	}
	return out, total, nil
}
