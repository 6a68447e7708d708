// Package config is thecure's configuration: one struct tree decoded strictly
// from one TOML file onto the built-in defaults, and validated as a whole so
// that every problem is reported at once as "FILE:LINE: key.path: message".
//
// Relative paths in the file are relative to data_dir, except data_dir itself,
// which is relative to the working directory.
package config

// Config is the whole configuration. Each service reads its own section.
type Config struct {
	// DataDir holds the store, the control socket, the self-signed
	// certificate, the media library and (by default) the backups.
	DataDir string `toml:"data_dir"`
	// PublicHost is the address clients use to reach the box (an IP or a
	// host name). FTP passive replies, DNS records and absolute URLs derive
	// from it. Empty means "the address the client connected to".
	PublicHost string `toml:"public_host"`
	// ShutdownTimeout bounds a graceful stop: running transfers and
	// requests get this long to finish.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	Log  Log  `toml:"log"`
	HTTP HTTP `toml:"http"`
	FTP  FTP  `toml:"ftp"`
	RTMP RTMP `toml:"rtmp"`
}

// Log configures the process log (stderr; journald under systemd).
type Log struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json
}

// HTTP configures the one web server.
type HTTP struct {
	Listen string `toml:"listen"` // host:port; HLS, API, pages, /healthz, /metrics
}

// FTP configures FTPS ingest.
type FTP struct {
	Listen       string    `toml:"listen"`        // explicit FTPS (AUTH TLS)
	PassivePorts PortRange `toml:"passive_ports"` // data connections
}

// RTMP configures the live RTMP server.
type RTMP struct {
	Listen string `toml:"listen"`
}

// Default returns the built-in configuration: what a first-time user gets with
// no config file at all.
func Default() *Config {
	return &Config{
		DataDir:         "thecure-data",
		PublicHost:      "",
		ShutdownTimeout: Duration(10e9),
		Log:             Log{Level: "info", Format: "text"},
		HTTP:            HTTP{Listen: ":8080"},
		FTP: FTP{
			Listen:       ":2121",
			PassivePorts: PortRange{First: 50000, Last: 50100},
		},
		RTMP: RTMP{Listen: ":1935"},
	}
}
