package appliance

import (
	"io"
	"log/slog"

	"thecure/appliance/config"
)

func loadConfigFile(path string) (*config.Config, error) {
	cfg, _, err := config.Load(path)
	return cfg, err
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
