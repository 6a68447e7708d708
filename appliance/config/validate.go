package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Validate checks the meaning of every value and returns every problem found,
// each with its key path (Load adds file and line).
func (c *Config) Validate() Problems {
	v := &validator{}
	v.check(c.DataDir != "", "data_dir", "must not be empty")
	v.check(c.ShutdownTimeout > 0, "shutdown_timeout", "must be positive")
	v.oneOf(c.Log.Level, "log.level", "debug", "info", "warn", "error")
	v.oneOf(c.Log.Format, "log.format", "text", "json")
	v.listen(c.HTTP.Listen, "http.listen", true)
	v.http(&c.HTTP)
	v.listen(c.FTP.Listen, "ftp.listen", true)
	v.portRange(c.FTP.PassivePorts, "ftp.passive_ports")
	v.folders(c.FTP.Folders)
	v.ftp(&c.FTP)
	v.check(c.Library.MediaDir != "", "library.media_dir", "must not be empty")
	v.check(c.Library.HLSDir != "", "library.hls_dir", "must not be empty")
	v.listen(c.RTMP.Listen, "rtmp.listen", true)
	v.bot(&c.Bot)
	v.backup(&c.Backup)
	v.publish(&c.Publish, c.HTTP.ViewerAuth)
	v.transcode(&c.Transcode, c.FTP.Folders)
	v.rtmp(&c.RTMP)
	v.hls(&c.HLS)
	v.channels(c.Channels, c.FTP.Folders, &c.RTMP, c.Transcode.Renditions)
	v.maxima(c)
	v.dns(&c.DNS, c.PublicHost)
	v.distinct(map[string]string{
		"http.listen":         c.HTTP.Listen,
		"http.tls_listen":     c.HTTP.TLSListen,
		"ftp.listen":          c.FTP.Listen,
		"ftp.implicit_listen": c.FTP.ImplicitListen,
		"rtmp.listen":         c.RTMP.Listen,
		"dns.listen":          c.DNS.listenIfEnabled(),
	})
	return v.probs
}

// validator collects problems; each check records one and never stops the others.
type validator struct {
	probs Problems
}

func (v *validator) fail(key, format string, args ...any) {
	v.probs = append(v.probs, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// secret records a required secret that is not given.
func (v *validator) secret(ok bool, key, msg string) {
	if !ok {
		v.probs = append(v.probs, Problem{Key: key, Msg: msg, MissingSecret: true})
	}
}

func (v *validator) check(ok bool, key, msg string) {
	if !ok {
		v.fail(key, "%s", msg)
	}
}

func (v *validator) oneOf(val, key string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.fail(key, "%q is not one of %q", val, allowed)
}

// listen checks a "host:port" listen address; an empty one is allowed (the
// service is off) unless required.
func (v *validator) listen(addr, key string, required bool) {
	if addr == "" {
		if required {
			v.fail(key, "must not be empty (write \"host:port\" or \":port\")")
		}
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.fail(key, "invalid listen address %q (write \"host:port\" or \":port\")", addr)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		v.fail(key, "port %q is out of range 0-65535", port)
		return
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		v.fail(key, "host %q must be an IP address or localhost", host)
	}
}

func (v *validator) portRange(r PortRange, key string) {
	switch {
	case r.First < 1 || r.Last > 65535:
		v.fail(key, "ports %s are out of range 1-65535", r)
	case r.First > r.Last:
		v.fail(key, "inverted range %s: the first port must not be above the last", r)
	}
}

// distinct reports listen addresses used by two services (":0" excepted).
func (v *validator) distinct(addrs map[string]string) {
	seen := map[string]string{}
	for _, key := range sortedKeys(addrs) {
		a := addrs[key]
		_, port, err := net.SplitHostPort(a)
		if a == "" || err != nil || port == "0" {
			continue
		}
		if other, ok := seen[a]; ok {
			v.fail(key, "address %q is already used by %s", a, other)
			continue
		}
		seen[a] = key
	}
}

func (v *validator) folders(fs []Folder) {
	seen := map[string]bool{}
	for i, f := range fs {
		key := fmt.Sprintf("ftp.folders[%d]", i)
		switch {
		case f.Name == "":
			v.fail(key+".name", "must not be empty")
		case strings.ContainsAny(f.Name, `/\`) || f.Name == "." || f.Name == ".." || strings.HasPrefix(f.Name, "."):
			v.fail(key+".name", "%q must be a plain folder name (no slashes, not hidden)", f.Name)
		case seen[f.Name]:
			v.fail(key+".name", "folder %q is declared twice", f.Name)
		}
		seen[f.Name] = true
		v.oneOf(f.Kind, key+".kind", KindMovies, KindSeries, KindMusic, KindFiles)
		for j, g := range f.WriteGroups {
			v.check(g != "", fmt.Sprintf("%s.write_groups[%d]", key, j), "group name must not be empty")
		}
		for j, g := range f.ReadGroups {
			v.check(g != "", fmt.Sprintf("%s.read_groups[%d]", key, j), "group name must not be empty")
		}
	}
}
