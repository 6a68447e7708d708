package config

import (
	"strings"
	"testing"
)

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "1024": 1024, "500MB": 500e6, "50GiB": 50 << 30, "2T": 2e12, "3 KiB": 3072} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5G", "10XB", "99999999999TiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	if s := ByteSize(50 << 30).String(); s != "50GiB" {
		t.Errorf("String = %q", s)
	}
}

func TestFTPValidation(t *testing.T) {
	_, _, err := Parse("t.toml", []byte("[ftp]\nimplicit_listen = \"nope\"\nmax_per_ip = -1\nidle_timeout = \"0s\"\ntls_cert = \"a.pem\"\nuser_quota = \"lots\"\n"))
	if err == nil {
		t.Fatal("bad [ftp] accepted")
	}
	for _, key := range []string{"ftp.implicit_listen", "ftp.max_per_ip", "ftp.idle_timeout", "ftp.tls_key", "ftp.user_quota"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no problem reported for %s in:\n%v", key, err)
		}
	}
}
