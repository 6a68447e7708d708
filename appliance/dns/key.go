package dns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// KeyDir is the folder of data_dir that holds the DNSSEC keys.
const KeyDir = "dns"

// keyPath is where the zone's signing key lives.
func keyPath(dataDir, origin string) string {
	return filepath.Join(dataDir, KeyDir, strings.TrimSuffix(origin, ".")+".key.pem")
}

// ErrNoKey means the zone has no DNSSEC key yet.
var ErrNoKey = errors.New("no DNSSEC key yet")

// loadKey reads the zone's key; ErrNoKey when there is none.
func loadKey(dataDir, origin string) (*dns.DNSKEY, *ecdsa.PrivateKey, error) {
	path := keyPath(dataDir, origin)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", path, ErrNoKey)
	}
	if err != nil {
		return nil, nil, err
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, nil, fmt.Errorf("%s: not a PEM file", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, nil, fmt.Errorf("%s: not an ECDSA P-256 key", path)
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     257, // zone key + secure entry point: one combined signing key
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
		PublicKey: base64.StdEncoding.EncodeToString(pub[1:]), // X || Y without the 0x04 prefix
	}, priv, nil
}

// loadOrCreateKey reads the zone's key, making it (mode 0600, in a 0700
// folder) the first time.
func loadOrCreateKey(dataDir, origin string) (*dns.DNSKEY, *ecdsa.PrivateKey, bool, error) {
	k, p, err := loadKey(dataDir, origin)
	if !errors.Is(err, ErrNoKey) {
		return k, p, false, err
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, false, err
	}
	dir := filepath.Join(dataDir, KeyDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, false, err
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return nil, nil, false, err
	}
	defer os.Remove(tmp.Name()) // gone after the link below, or on failure
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, nil, false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, nil, false, err
	}
	if err := tmp.Close(); err != nil {
		return nil, nil, false, err
	}
	// A link never replaces a key another process made meanwhile.
	if err := os.Link(tmp.Name(), keyPath(dataDir, origin)); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, nil, false, err
	}
	k, p, err = loadKey(dataDir, origin)
	return k, p, err == nil, err
}

// DS returns the DS record (SHA-256 digest) of zone's DNSSEC key in dataDir,
// as the parent zone publishes it: what `thecure dns ds` prints. It reads
// the key and never makes one (ErrNoKey: the appliance has not run with
// [dns] dnssec = true yet).
func DS(dataDir, zone string) (*dns.DS, error) {
	k, _, err := loadKey(dataDir, dns.CanonicalName(zone))
	if err != nil {
		return nil, err
	}
	ds := k.ToDS(dns.SHA256)
	if ds == nil {
		return nil, errors.New("cannot compute the DS digest")
	}
	return ds, nil
}
