package appliance

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"thecure/appliance/library"
	"thecure/appliance/transcode"
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
	a.queue = transcode.New(a.store, a.catalogue, a.log.With("svc", "transcode"), a.health, a.reg, transcode.Options{
		MediaDir:  mediaDir,
		Folders:   a.cfg.FTP.Folders,
		Transcode: a.cfg.Transcode,
		HealthKey: "transcode",
	})
	a.web.Handle("GET /vod/{id}/{file...}", a.catalogue.VODHandler())
	a.web.Handle("GET /api/library", a.catalogue.APIHandler())
	a.web.Handle("GET /api/jobs", a.queue.JobsHandler())
	a.add(service{name: "transcode", run: func(ctx context.Context, _ []net.Listener) error { return a.queue.Run(ctx) }})
	return nil
}
