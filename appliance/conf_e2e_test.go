package appliance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigLoadsFiles: check-config loads the certificate and key (and
// every file a key names) as run does, so what check-config refuses run
// refuses with the same FILE:LINE lines, and what it accepts run starts with.
func TestCheckConfigLoadsFiles(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "testdata", "config", "tls")
	for _, f := range []string{"good.crt", "good.key", "garbage.crt", "other.key"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write := func(ftpKeys string) {
		t.Helper()
		cfg := fmt.Sprintf("data_dir = %q\nshutdown_timeout = \"5s\"\n[http]\nlisten = \"127.0.0.1:0\"\n[rtmp]\nlisten = \"127.0.0.1:0\"\n[ftp]\nlisten = \"127.0.0.1:0\"\n%s", data, ftpKeys)
		if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ keys, want string }{
		{"tls_cert = \"missing.crt\"\ntls_key = \"good.key\"\n",
			"config.toml:9: ftp.tls_cert: open " + filepath.Join(data, "missing.crt") + ": no such file or directory\n"},
		{"tls_cert = \"garbage.crt\"\ntls_key = \"good.key\"\n",
			"config.toml:9: ftp.tls_cert: " + filepath.Join(data, "garbage.crt") + ": no PEM certificate in it\n"},
		{"tls_cert = \"good.crt\"\ntls_key = \"other.key\"\n",
			"config.toml:10: ftp.tls_key: " + filepath.Join(data, "other.key") + ": tls: private key does not match public key\n"},
		{"tls_cert = \"good.crt\"\ntls_key = \"good.key\"\nmax_clients = 9223372036854775807\n",
			"config.toml:11: ftp.max_clients: 9223372036854775807 is above the maximum 10000\n"},
	} {
		write(c.keys)
		_, errOut, code := runCmd(t, dir, "check-config", "-c", "config.toml")
		if code != 1 || errOut != c.want {
			t.Errorf("check-config: exit %d, stderr %q, want %q", code, errOut, c.want)
		}
		_, errOut, code = runCmd(t, dir, "run", "-c", "config.toml")
		if code != 1 || errOut != c.want {
			t.Errorf("run: exit %d, stderr %q, want %q", code, errOut, c.want)
		}
	}

	// A good pair passes both, and run starts with it.
	write("tls_cert = \"good.crt\"\ntls_key = \"good.key\"\n")
	if out, errOut, code := runCmd(t, dir, "check-config", "-c", "config.toml"); code != 0 || out != "ok: config.toml\n" || errOut != "" {
		t.Fatalf("good pair: exit %d, %q, %q", code, out, errOut)
	}
	p := start(t, dir, "run", "-c", "config.toml")
	p.waitLine(t, `thecure is running`)
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 15e9); code != 0 {
		t.Fatalf("run with a good pair exited %d", code)
	}

	// A damaged self-signed pair in the data dir: run would refuse to start,
	// and check-config says so.
	write("")
	p = start(t, dir, "run", "-c", "config.toml")
	p.waitLine(t, `thecure is running`)
	p.cmd.Process.Signal(os.Interrupt)
	p.wait(t, 15e9)
	if err := os.WriteFile(filepath.Join(data, "tls", "selfsigned.crt"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCmd(t, dir, "check-config", "-c", "config.toml")
	if code != 1 || !strings.HasPrefix(errOut, "config.toml:7: ftp.tls_cert: the self-signed certificate in data_dir does not load") {
		t.Errorf("damaged self-signed pair: exit %d, %q", code, errOut)
	}
	if _, errOut2, code := runCmd(t, dir, "run", "-c", "config.toml"); code != 1 || errOut2 != errOut {
		t.Errorf("run with a damaged self-signed pair: exit %d, %q", code, errOut2)
	}
}

// TestCheckConfigWarnsInlineSecret: a bot token written in a config file
// every user can read is a warning (check-config still says ok).
func TestCheckConfigWarnsInlineSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf("data_dir = %q\n[bot]\ntoken = \"123456:tok-xyzzy\"\n[backup.s3]\nsecret_key = \"s3-plugh\"\n", filepath.Join(dir, "data"))
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644) // whatever the umask
	out, errOut, code := runCmd(t, dir, "check-config", "-c", "config.toml")
	if code != 0 || out != "ok: config.toml\n" {
		t.Fatalf("exit %d, %q, %q", code, out, errOut)
	}
	for _, w := range []string{"warning: bot.token: written in config.toml", "warning: backup.s3.secret_key: written in config.toml"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("no %q in %q", w, errOut)
		}
	}
	if strings.Contains(errOut, "xyzzy") || strings.Contains(errOut, "plugh") {
		t.Errorf("the warning shows the secret: %q", errOut)
	}
	os.Chmod(path, 0o600)
	if out, errOut, code := runCmd(t, dir, "check-config", "-c", "config.toml"); code != 0 || out != "ok: config.toml\n" || errOut != "" {
		t.Errorf("chmod 600: exit %d, %q, %q", code, out, errOut)
	}
}
