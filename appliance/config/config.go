// Package config is thecure's configuration: one struct tree decoded strictly
// from one TOML file onto the built-in defaults, and validated as a whole so
// that every problem is reported at once as "FILE:LINE: key.path: message".
//
// Relative paths in the file are relative to data_dir, except data_dir itself,
// which is relative to the working directory.
package config

import "time"

// Config is the whole configuration. Each service reads its own section.
type Config struct {
	// DataDir holds the store, the control socket, the self-signed
	// certificate, the media library and (by default) the backups.
	DataDir string `toml:"data_dir"`
	// PublicHost is the address clients use to reach the box (an IP or a
	// host name). FTP passive replies announce it and a new self-signed
	// certificate names it. Empty means "the address the client connected to".
	PublicHost string `toml:"public_host"`
	// ShutdownTimeout bounds a graceful stop: running transfers and
	// requests get this long to finish.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	Log       Log       `toml:"log"`
	HTTP      HTTP      `toml:"http"`
	FTP       FTP       `toml:"ftp"`
	RTMP      RTMP      `toml:"rtmp"`
	HLS       HLS       `toml:"hls"`
	Library   Library   `toml:"library"`
	Bot       Bot       `toml:"bot"`
	Backup    Backup    `toml:"backup"`
	Publish   Publish   `toml:"publish"`
	Transcode Transcode `toml:"transcode"`
	DNS       DNS       `toml:"dns"`

	// Channels are the playout channels ([[channels]], channels.go).
	Channels []Channel `toml:"channels"`
}

// Log configures the process log (stderr; journald under systemd).
type Log struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json
}

// HTTP configures the one web server.
type HTTP struct {
	Listen string `toml:"listen"` // host:port; HLS, API, pages, /healthz, /metrics

	// The keys below are documented and validated in http.go.
	TLSListen      string   `toml:"tls_listen"`
	Language       string   `toml:"language"`
	ViewerAuth     bool     `toml:"viewer_auth"`
	SessionTTL     Duration `toml:"session_ttl"`
	LoginBanAfter  int      `toml:"login_ban_after"`
	LoginBanWindow Duration `toml:"login_ban_window"`
	LoginBanTime   Duration `toml:"login_ban_time"`
}

// FTP configures FTPS ingest.
type FTP struct {
	Listen       string    `toml:"listen"`        // explicit FTPS (AUTH TLS)
	PassivePorts PortRange `toml:"passive_ports"` // data connections
	Folders      []Folder  `toml:"folders"`       // the library folders users see at the FTP root

	// The keys below are documented and validated in ftp.go.
	ImplicitListen string   `toml:"implicit_listen"`
	RequireTLS     bool     `toml:"require_tls"`
	TLSCert        string   `toml:"tls_cert"`
	TLSKey         string   `toml:"tls_key"`
	ActiveMode     bool     `toml:"active_mode"`
	MaxClients     int      `toml:"max_clients"`
	MaxPerIP       int      `toml:"max_per_ip"`
	IdleTimeout    Duration `toml:"idle_timeout"`
	BanAfter       int      `toml:"ban_after"`
	BanWindow      Duration `toml:"ban_window"`
	BanTime        Duration `toml:"ban_time"`
	UserQuota      ByteSize `toml:"user_quota"`
	// Hardening against hostile clients (ftp.go).
	LoginTimeout        Duration `toml:"login_timeout"`
	MaxStartups         int      `toml:"max_startups"`
	TLSHandshakeTimeout Duration `toml:"tls_handshake_timeout"`
	MaxPartsPerUser     int      `toml:"max_parts_per_user"`
	MinFreeSpace        ByteSize `toml:"min_free_space"`
}

// Folder kinds: what the VOD pipeline does with a finished upload.
const (
	KindMovies = "movies" // films: one title per file, title and year from the name
	KindSeries = "series" // episodes: show, season and episode from the name or folders
	KindMusic  = "music"  // tracks: audio-only HLS, tags for title/artist/album
	KindFiles  = "files"  // plain files, not processed
)

// Folder is one top-level folder of the library (and of the FTP root).
type Folder struct {
	Name        string   `toml:"name"`
	Kind        string   `toml:"kind"`
	WriteGroups []string `toml:"write_groups"`
	ReadGroups  []string `toml:"read_groups"` // empty: every user may read
}

// Library configures where media lives on disk.
type Library struct {
	// MediaDir holds the folders ([[ftp.folders]]) with the uploaded sources.
	MediaDir string `toml:"media_dir"`
	// HLSDir holds the HLS output of the VOD pipeline.
	HLSDir string `toml:"hls_dir"`
}

// Default returns the built-in configuration: what a first-time user gets with
// no config file at all.
func Default() *Config {
	return &Config{
		DataDir:         "thecure-data",
		PublicHost:      "",
		ShutdownTimeout: Duration(10e9),
		Log:             Log{Level: "info", Format: "text"},
		HTTP:            defaultHTTP(),
		FTP: FTP{
			Listen:       ":2121",
			PassivePorts: PortRange{First: 50000, Last: 50100},
			Folders: []Folder{
				{Name: "pelis", Kind: KindMovies, WriteGroups: []string{"innovatech"}},
				{Name: "series", Kind: KindSeries, WriteGroups: []string{"innovatech"}},
				{Name: "musica", Kind: KindMusic, WriteGroups: []string{"innovatech"}},
				{Name: "admin", Kind: KindFiles, WriteGroups: []string{"admin"}, ReadGroups: []string{"admin"}},
			},
			ImplicitListen: "", RequireTLS: true, MaxClients: 50, MaxPerIP: 10,
			IdleTimeout: Duration(15 * time.Minute), BanAfter: 5,
			BanWindow: Duration(10 * time.Minute), BanTime: Duration(time.Hour),
			LoginTimeout: Duration(20 * time.Second), MaxStartups: 32, TLSHandshakeTimeout: Duration(10 * time.Second),
			MaxPartsPerUser: 20, MinFreeSpace: ByteSize(1 << 30),
		},
		RTMP:      defaultRTMP(),
		HLS:       defaultHLS(),
		Library:   Library{MediaDir: "media", HLSDir: "hls"},
		Bot:       defaultBot(),
		Backup:    defaultBackup(),
		Publish:   defaultPublish(),
		Transcode: defaultTranscode(),
		DNS:       defaultDNS(),
	}
}
