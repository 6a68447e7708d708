package appliance

import (
	"context"
	"net"
	"path/filepath"

	"thecure/appliance/backup"
	"thecure/appliance/bot"
	"thecure/appliance/config"
	"thecure/appliance/health"
)

// The support bot and backups fit each other's views.
var (
	_ backup.Alerter = (*alertRelay)(nil)
	_ bot.Backups    = (*backup.Service)(nil)
)

// backupOptions is what backups hold for this configuration.
func backupOptions(cfg *config.Config, dataDir, cfgFile string) backup.Options {
	return backup.Options{
		Config:     cfg.Backup,
		DataDir:    dataDir,
		ConfigFile: cfgFile,
		MediaDir:   absPath(cfg.Path(cfg.Library.MediaDir)),
		HLSDir:     absPath(cfg.Path(cfg.Library.HLSDir)),
		ExtraFiles: operatorTLSFiles(cfg),
		Version:    version,
	}
}

// operatorTLSFiles are the certificate and key the operator configured, if
// any (the self-signed pair in data_dir/tls is backed up with the data dir).
func operatorTLSFiles(cfg *config.Config) []string {
	var files []string
	for _, f := range []string{cfg.FTP.TLSCert, cfg.FTP.TLSKey} {
		if f != "" {
			files = append(files, absPath(cfg.Path(f)))
		}
	}
	return files
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// wireBackup adds the backup scheduler and its control routes
// (backup.ControlRoutes).
func (a *app) wireBackup() error {
	svc, err := backup.New(backupOptions(a.cfg, a.dataDir, a.cfgFile), a.store, a.log.With("svc", "backup"), backup.Deps{
		Alerter:  &a.alerts,
		Registry: a.reg,
		Health: func(ok bool, detail string) {
			// A failed backup (its disk, its S3 target) does not stop the
			// box serving: degraded, not down.
			if ok {
				a.health.Set("backup", health.Up, detail)
			} else {
				a.health.Set("backup", health.Degraded, detail)
			}
		},
	})
	if err != nil {
		return err
	}
	a.backup = svc
	backup.ControlRoutes(a.ctl, svc)
	a.add(service{name: "backup", run: func(ctx context.Context, _ []net.Listener) error { return svc.Run(ctx) }})
	return nil
}
