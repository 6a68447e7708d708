package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"thecure/appliance/tlscert"
)

// files loads every file a key names that `run` would load, so that
// check-config fails where run would fail, at the same key: the TLS
// certificate and key (or the self-signed pair kept in data_dir/tls/, when
// it exists); and the folders run makes must not be files. Secret files (*_file keys) are read by the decoder's secrets
// step. It returns the problems and the warnings (a certificate that has
// expired, a private key every user can read).
func (c *Config) files(now time.Time) (Problems, []string) {
	var warnings []string
	// The folders run makes must not be files already (MkdirAll would fail).
	var probs Problems
	for _, d := range []struct{ key, path string }{
		{"data_dir", c.DataDir},
		{"library.media_dir", c.Path(c.Library.MediaDir)},
		{"library.hls_dir", c.Path(c.Library.HLSDir)},
		{"backup.dir", c.Path(c.Backup.Dir)},
		{"hls.segment_dir", c.Path(c.HLS.SegmentDir)},
	} {
		if st, err := os.Stat(d.path); d.path != "" && err == nil && !st.IsDir() {
			probs = append(probs, Problem{Key: d.key, Msg: fmt.Sprintf("%s is a file, not a folder", d.path)})
		}
	}
	certFile, keyFile := c.Path(c.FTP.TLSCert), c.Path(c.FTP.TLSKey)
	own := c.FTP.TLSCert != "" && c.FTP.TLSKey != ""
	if !own {
		if c.FTP.TLSCert != "" || c.FTP.TLSKey != "" {
			return probs, nil // Validate reports the half-given pair
		}
		certFile = filepath.Join(c.DataDir, tlscert.SelfSignedCert)
		keyFile = filepath.Join(c.DataDir, tlscert.SelfSignedKey)
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			return probs, nil // run makes a new one
		}
	}
	cert, err := tlscert.LoadPair(certFile, keyFile)
	if err != nil {
		key := "ftp.tls_key"
		var pe *tlscert.PairError
		if errors.As(err, &pe) && pe.File == tlscert.CertFile {
			key = "ftp.tls_cert"
		}
		msg := err.Error()
		if !own {
			msg = fmt.Sprintf("the self-signed certificate in data_dir does not load (delete %s and %s to make a new one): %v",
				certFile, keyFile, err)
		}
		return append(probs, Problem{Key: key, Msg: msg, Replaceable: !own}), nil
	}
	if own {
		if st, err := os.Stat(keyFile); err == nil && st.Mode().Perm()&0o004 != 0 {
			warnings = append(warnings, fmt.Sprintf("ftp.tls_key: %s is readable by every user; chmod o-r it", keyFile))
		}
	}
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && now.After(leaf.NotAfter) {
		warnings = append(warnings, fmt.Sprintf("ftp.tls_cert: the certificate in %s expired on %s; clients will refuse it",
			certFile, leaf.NotAfter.UTC().Format(time.DateOnly)))
	}
	return probs, warnings
}
