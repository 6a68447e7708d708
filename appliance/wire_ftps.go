package appliance

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"thecure/appliance/ftps"
	"thecure/appliance/transcode"
)

// The transcode queue is the FTPS ingest.
var _ ftps.Ingest = (*transcode.Queue)(nil)

// wireFTPS builds the FTPS ingest on ftp.listen (and ftp.implicit_listen).
func (a *app) wireFTPS() error {
	cfg := a.cfg
	mediaDir, err := filepath.Abs(cfg.Path(cfg.Library.MediaDir))
	if err != nil {
		return fmt.Errorf("library.media_dir: %w", err)
	}
	// Finished uploads and removed sources go to the VOD queue (wireVOD
	// runs first); without one, nothing is announced.
	var ingest ftps.Ingest
	if a.queue != nil {
		ingest = a.queue
	}
	srv, err := ftps.New(ftps.Options{
		FTP:             cfg.FTP,
		MediaDir:        mediaDir,
		PublicHost:      cfg.PublicHost,
		ShutdownTimeout: cfg.ShutdownTimeout.Std(),
		Cert:            a.cert,
		Accounts:        a.users,
		Store:           a.store,
		Ingest:          ingest,
		QuarantineDir:   cfg.Transcode.QuarantineDir,
		Metrics:         a.reg,
		Health:          a.health,
		Log:             a.log.With("svc", "ftps"),
	})
	if err != nil {
		return err
	}
	a.ftps = srv
	a.add(service{
		name:   "ftps",
		listen: []listenSpec{{"ftp.listen", cfg.FTP.Listen}, {"ftp.implicit_listen", cfg.FTP.ImplicitListen}},
		run: func(ctx context.Context, lns []net.Listener) error {
			return srv.Serve(ctx, lns[0], lns[1])
		},
	})
	return nil
}
