// Package tlscert provides the appliance's TLS certificate: the operator's own
// (certificate and key files) or, failing that, a self-signed one generated on
// the first start and kept in the data directory, so clients that pinned it
// keep trusting it across restarts.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Self-signed certificate files, relative to the data directory.
const (
	SelfSignedCert = "tls/selfsigned.crt"
	SelfSignedKey  = "tls/selfsigned.key"
)

// Load returns the certificate in certFile/keyFile when both are set, else the
// self-signed one in dataDir, generating it for hosts (names and addresses)
// when it does not exist yet. created reports a new self-signed certificate.
func Load(certFile, keyFile, dataDir string, hosts []string) (cert tls.Certificate, created bool, err error) {
	if certFile != "" || keyFile != "" {
		cert, err = LoadPair(certFile, keyFile)
		if err != nil {
			return cert, false, fmt.Errorf("load tls certificate: %w", err)
		}
		return cert, false, nil
	}
	cf, kf := filepath.Join(dataDir, SelfSignedCert), filepath.Join(dataDir, SelfSignedKey)
	cert, err = LoadPair(cf, kf)
	if err == nil {
		return cert, false, nil
	}
	if _, statErr := os.Stat(cf); !errors.Is(statErr, os.ErrNotExist) {
		return cert, false, fmt.Errorf("load self-signed certificate (delete %s to make a new one): %w", cf, err)
	}
	if err := generate(cf, kf, hosts, time.Now()); err != nil {
		return cert, false, err
	}
	cert, err = tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		return cert, false, fmt.Errorf("load new self-signed certificate: %w", err)
	}
	return cert, true, nil
}

// Which file of a pair a PairError is about.
const (
	CertFile = "cert"
	KeyFile  = "key"
)

// PairError is a certificate or key file that cannot be used; File says
// which of the two (CertFile or KeyFile).
type PairError struct {
	File string
	Err  error
}

func (e *PairError) Error() string { return e.Err.Error() }
func (e *PairError) Unwrap() error { return e.Err }

// LoadPair reads a PEM certificate chain and its private key, and checks
// that they belong together. Its errors are *PairError. The configuration's
// check (check-config) and the appliance's start both load through it.
func LoadPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readPEM(certFile)
	if err != nil {
		return tls.Certificate{}, &PairError{CertFile, err}
	}
	keyPEM, err := readPEM(keyFile)
	if err != nil {
		return tls.Certificate{}, &PairError{KeyFile, err}
	}
	// Find out whether the certificate itself is at fault before pairing.
	if err := checkCertPEM(certFile, certPEM); err != nil {
		return tls.Certificate{}, &PairError{CertFile, err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &PairError{KeyFile, fmt.Errorf("%s: %w", keyFile, err)}
	}
	return cert, nil
}

// maxPEM bounds a certificate chain or key file (a long chain is ~20 KiB).
const maxPEM = 1 << 20

// readPEM reads a regular file of at most maxPEM bytes (not a device or a
// pipe, which could block or never end).
func readPEM(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPEM+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxPEM {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a certificate or key", name, maxPEM)
	}
	return data, nil
}

// checkCertPEM reports a file with no certificate, or one that does not parse.
func checkCertPEM(name string, data []byte) error {
	found := false
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		found = true
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if !found {
		return fmt.Errorf("%s: no PEM certificate in it", name)
	}
	return nil
}

func generate(certFile, keyFile string, hosts []string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "thecure", Organization: []string{"thecure self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	seen := map[string]bool{}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return fmt.Errorf("create tls dir: %w", err)
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
