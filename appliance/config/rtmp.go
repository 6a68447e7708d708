package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// RTMP configures the live RTMP server: publishing (ingest) and playback at
// rtmp://HOST:PORT/live/NAME.
type RTMP struct {
	Listen string `toml:"listen"`
	// AllowPublish and AllowPlay are the client addresses (CIDR prefixes or
	// single addresses) that may publish and play. An empty list allows nobody.
	AllowPublish []string `toml:"allow_publish"`
	AllowPlay    []string `toml:"allow_play"`
	// RequireKey refuses publishing on names without an [rtmp.streams.NAME] entry.
	RequireKey bool `toml:"require_key"`
	// Streams declares named streams, each with an optional publish key.
	Streams map[string]RTMPStream `toml:"streams"`
	// MaxConnections bounds the RTMP connections open at once (publishers
	// and players); the last few are kept for addresses allowed to publish.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerAddress bounds the RTMP connections open at once
	// from one client address (refused at accept).
	MaxConnectionsPerAddress int `toml:"max_connections_per_address"`
	// MaxPlayers bounds the RTMP players of one stream.
	MaxPlayers int `toml:"max_players"`
	// PlayerQueue is how many media messages may wait for a slow player
	// before it is dropped.
	PlayerQueue int `toml:"player_queue"`
	// HandshakeTimeout bounds the RTMP handshake, connect and the publish
	// or play command, from accept, whatever the client sends meanwhile;
	// ReadTimeout is how long a publisher may send nothing; WriteTimeout is
	// how long one message to a player may take.
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	ReadTimeout      Duration `toml:"read_timeout"`
	WriteTimeout     Duration `toml:"write_timeout"`
	// Push restreams local streams to other RTMP servers ([[rtmp.push]]).
	Push []RTMPPush `toml:"push"`
	// Pull relays streams from an origin as local streams ([[rtmp.pull]]).
	Pull []RTMPPull `toml:"pull"`
}

// RTMPPush is one restream target: every stream published here under
// Stream ("*": every stream) is published to URL as well.
type RTMPPush struct {
	// Stream is a local stream name, or "*" for every stream.
	Stream string `toml:"stream"`
	// URL is the target's full RTMP URL (rtmp://HOST[:PORT]/APP/NAME); with
	// Stream "*", "/" and the stream's name are appended to it
	// (rtmp://HOST[:PORT]/APP).
	URL string `toml:"url"`
}

// RTMPPull is one relayed stream: played from an origin and served here
// as the local stream Name.
type RTMPPull struct {
	Name string `toml:"name"`
	// URL is the origin's full RTMP URL of the stream (rtmp://HOST[:PORT]/APP/NAME).
	URL string `toml:"url"`
}

// RTMPStream is one declared live stream.
type RTMPStream struct {
	// Key, when set, must be given by the publisher as ?key=KEY.
	Key string `toml:"key"`
}

func defaultRTMP() RTMP {
	return RTMP{
		Listen:                   ":1935",
		AllowPublish:             []string{"127.0.0.1/8", "::1/128"},
		AllowPlay:                []string{"0.0.0.0/0", "::/0"},
		MaxConnections:           2500, // see MaxPlayers
		MaxConnectionsPerAddress: 16,
		// 2000 players of a 600 kb/s stream cost about 40 % of one core and
		// 70 MB (measured with .ci/bench-live: 1,000 cost 20 % and 34 MB),
		// leaving a 2-core box the other core and a half for HLS, ingest and
		// transcodes; their 1.2 Gb/s is more than most links carry anyway
		MaxPlayers:       2000,
		PlayerQueue:      1024,
		HandshakeTimeout: Duration(10e9),
		ReadTimeout:      Duration(30e9),
		WriteTimeout:     Duration(10e9),
	}
}

// MaxRTMPConnectionsPerAddress is the largest rtmp.max_connections_per_address.
const MaxRTMPConnectionsPerAddress = 10000

// ValidStreamName tells whether name may be used for a live stream (it
// appears in URLs and paths): 1-64 characters A-Z a-z 0-9 _ -, the first a
// letter or digit.
func ValidStreamName(name string) bool {
	return charset(name, 1, 64, tokenChar) && name[0] != '_' && name[0] != '-'
}

// tokenChar: A-Z a-z 0-9 _ -.
func tokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// charset tells whether s has min to max bytes, each of them ok. These
// checks were regular expressions with counted repetitions ({1,256}), which
// the regexp package compiles into one instruction per repetition: 320 KB
// built at every start, for three character classes.
func charset(s string, min, max int, ok func(byte) bool) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func (v *validator) rtmp(c *RTMP) {
	v.prefixes(c.AllowPublish, "rtmp.allow_publish")
	v.prefixes(c.AllowPlay, "rtmp.allow_play")
	for _, name := range sortedKeys(c.Streams) {
		v.check(ValidStreamName(name), "rtmp.streams."+name,
			"stream name must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
	}
	v.check(c.MaxConnections > 0, "rtmp.max_connections", "must be positive")
	v.check(c.MaxConnectionsPerAddress > 0 && c.MaxConnectionsPerAddress <= MaxRTMPConnectionsPerAddress,
		"rtmp.max_connections_per_address", fmt.Sprintf("must be between 1 and %d", MaxRTMPConnectionsPerAddress))
	v.check(c.MaxPlayers > 0, "rtmp.max_players", "must be positive")
	v.check(c.PlayerQueue >= 16, "rtmp.player_queue", "must be at least 16")
	v.check(c.HandshakeTimeout > 0, "rtmp.handshake_timeout", "must be positive")
	v.check(c.ReadTimeout > 0, "rtmp.read_timeout", "must be positive")
	v.check(c.WriteTimeout > 0, "rtmp.write_timeout", "must be positive")
	v.relays(c)
}

// relays checks [[rtmp.push]] and [[rtmp.pull]].
func (v *validator) relays(c *RTMP) {
	atMost(v, "rtmp.push", len(c.Push), maxRelays)
	atMost(v, "rtmp.pull", len(c.Pull), maxRelays)
	seen := map[[2]string]bool{}
	for i, p := range c.Push {
		key := fmt.Sprintf("rtmp.push[%d]", i)
		v.check(p.Stream == "*" || ValidStreamName(p.Stream), key+".stream",
			`must be "*" or a stream name (1-64 letters, digits, '-' or '_', starting with a letter or digit)`)
		segs := 2
		if p.Stream == "*" {
			segs = 1
		}
		if err := CheckRTMPURL(p.URL, segs); err != nil {
			v.fail(key+".url", "%v", err)
		}
		v.check(!seen[[2]string{p.Stream, p.URL}], key, "same stream and url as an earlier [[rtmp.push]]")
		seen[[2]string{p.Stream, p.URL}] = true
	}
	names := map[string]bool{}
	for i, p := range c.Pull {
		key := fmt.Sprintf("rtmp.pull[%d]", i)
		v.check(ValidStreamName(p.Name), key+".name",
			"stream name must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
		v.check(!names[p.Name], key+".name", "stream already pulled by an earlier [[rtmp.pull]]")
		names[p.Name] = true
		if err := CheckRTMPURL(p.URL, 2); err != nil {
			v.fail(key+".url", "%v", err)
		}
	}
}

// CheckRTMPURL checks an rtmp:// URL with a host and at least segs path
// segments (APP, or APP/NAME).
func CheckRTMPURL(s string, segs int) error {
	u, err := url.Parse(s)
	want := "rtmp://HOST[:PORT]/APP/NAME"
	if segs < 2 {
		want = "rtmp://HOST[:PORT]/APP"
	}
	switch {
	case err != nil || u.Scheme != "rtmp" || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("must be an RTMP URL like %s", want)
	case len(strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })) < segs:
		return fmt.Errorf("needs a path: %s", want)
	}
	return nil
}

// prefixes checks a list of CIDR prefixes or single IP addresses.
func (v *validator) prefixes(list []string, key string) {
	for i, s := range list {
		if _, err := ParsePrefix(s); err != nil {
			v.fail(fmt.Sprintf("%s[%d]", key, i), "%v", err)
		}
	}
}

// ParsePrefix reads "10.0.0.0/8", "::1/128" or a single address "192.0.2.7".
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix (write e.g. \"10.0.0.0/8\")", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
