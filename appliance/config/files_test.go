package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInlineSecretInWorldReadableFile: a token or secret key written in the
// config file itself gets a warning when every user can read the file, as a
// world-readable token_file does; none once the file is chmod o-r.
func TestInlineSecretInWorldReadableFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	src := "data_dir = " + tomlString(dir) + "\n[bot]\ntoken = \"123:abc\"\n[backup.s3]\nsecret_key = \"s3cr3t\"\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warnings, "\n")
	for _, key := range []string{"bot.token: written in", "backup.s3.secret_key: written in"} {
		if !strings.Contains(all, key) {
			t.Errorf("no warning %q in:\n%s", key, all)
		}
	}
	if strings.Contains(all, "123:abc") || strings.Contains(all, "s3cr3t") {
		t.Errorf("a warning shows the secret itself:\n%s", all)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, warnings, err = Load(path); err != nil || len(warnings) != 0 {
		t.Errorf("a file only its group can read: warnings %v, err %v", warnings, err)
	}
	// No secret written inline: no warning, whatever the mode.
	if err := os.WriteFile(path, []byte("data_dir = "+tomlString(dir)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, warnings, err = Load(path); err != nil || len(warnings) != 0 {
		t.Errorf("no inline secret: warnings %v, err %v", warnings, err)
	}
}

func tomlString(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

// TestCertificateFiles: a good pair loads with no problem, the certificate
// run will use is exactly the one checked, and a world-readable key or an
// expired certificate are warnings.
func TestCertificateFiles(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "config", "tls")
	dir := t.TempDir()
	for _, f := range []string{"good.crt", "good.key"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Default()
	cfg.DataDir = dir
	cfg.FTP.TLSCert, cfg.FTP.TLSKey = "good.crt", "good.key"
	probs, warnings := cfg.files(time.Now())
	if len(probs) != 0 || len(warnings) != 0 {
		t.Fatalf("good pair: problems %v, warnings %v", probs, warnings)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "good.crt"), filepath.Join(dir, "good.key")); err != nil {
		t.Fatalf("the test pair itself: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "good.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings = cfg.files(time.Now().AddDate(200, 0, 0))
	all := strings.Join(warnings, "\n")
	if !strings.Contains(all, "ftp.tls_key: ") || !strings.Contains(all, "readable by every user") {
		t.Errorf("a world-readable key: no warning in %q", all)
	}
	if !strings.Contains(all, "ftp.tls_cert: ") || !strings.Contains(all, "expired") {
		t.Errorf("an expired certificate: no warning in %q", all)
	}

	// No pair given and no self-signed one yet: run makes one; nothing to check.
	cfg = Default()
	cfg.DataDir = t.TempDir()
	if probs, warnings := cfg.files(time.Now()); len(probs) != 0 || len(warnings) != 0 {
		t.Errorf("fresh data dir: problems %v, warnings %v", probs, warnings)
	}
}
