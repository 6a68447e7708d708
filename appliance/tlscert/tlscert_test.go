package tlscert

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSelfSignedCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	cert, created, err := Load("", "", dir, []string{"box.example.com", "192.0.2.7"})
	if err != nil || !created {
		t.Fatalf("first load: created %v, %v", created, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("box.example.com"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("192.0.2.7"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	fi, err := os.Stat(filepath.Join(dir, SelfSignedKey))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	again, created, err := Load("", "", dir, nil)
	if err != nil || created {
		t.Fatalf("second load: created %v, %v", created, err)
	}
	if !bytes.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Error("the certificate changed on the second load")
	}
}

func TestOperatorCertificate(t *testing.T) {
	own := t.TempDir()
	if _, _, err := Load("", "", own, []string{"ftp.example.com"}); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	cert, created, err := Load(filepath.Join(own, SelfSignedCert), filepath.Join(own, SelfSignedKey), other, nil)
	if err != nil || created {
		t.Fatalf("operator certificate: created %v, %v", created, err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if leaf.VerifyHostname("ftp.example.com") != nil {
		t.Error("not the operator's certificate")
	}
	if _, err := os.Stat(filepath.Join(other, SelfSignedCert)); err == nil {
		t.Error("a self-signed certificate was made although the operator gave one")
	}
	if _, _, err := Load("/nonexistent.crt", "/nonexistent.key", other, nil); err == nil {
		t.Error("a missing operator certificate must be an error")
	}
}

func TestCorruptSelfSignedIsAnErrorNotReplaced(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load("", "", dir, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, SelfSignedCert), []byte("garbage"), 0o644)
	_, _, err := Load("", "", dir, nil)
	if err == nil || !strings.Contains(err.Error(), "delete") {
		t.Fatalf("corrupt certificate: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, SelfSignedCert)); string(data) != "garbage" {
		t.Error("the corrupt certificate was silently replaced")
	}
}
