package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"thecure/appliance/tlscert"
)

// A broken self-signed certificate in data_dir stops run and check-config
// (Load fails), but the configuration still comes back marked
// replaceable, so that `thecure restore` (which mends it) and the other
// management commands can go on.
func TestBrokenSelfSignedCertificateIsReplaceable(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, filepath.Dir(tlscert.SelfSignedCert)), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{tlscert.SelfSignedCert, tlscert.SelfSignedKey} {
		if err := os.WriteFile(filepath.Join(data, f), []byte("not PEM"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte("data_dir = \""+data+"\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(file)
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 || !probs[0].Replaceable || cfg == nil {
		t.Fatalf("Load with a broken self-signed certificate: cfg %v, %v", cfg != nil, err)
	}
	// An operator's own certificate that does not load is not replaceable.
	if err := os.WriteFile(file, []byte("data_dir = \""+data+"\"\n[ftp]\ntls_cert = \""+filepath.Join(data, tlscert.SelfSignedCert)+"\"\ntls_key = \""+filepath.Join(data, tlscert.SelfSignedKey)+"\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = Load(file)
	if !errors.As(err, &probs) || probs[0].Replaceable || cfg != nil {
		t.Fatalf("Load with a broken operator certificate: cfg %v, %v", cfg != nil, err)
	}
}
