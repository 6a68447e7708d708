// Package s3client makes the S3 client of a configured bucket ([backup.s3],
// [publish.s3]): one place for how the keys of the file become a minio-go
// client and a key prefix.
package s3client

import (
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"thecure/appliance/config"
)

// New returns a client for the endpoint c names. It opens no connection.
func New(c config.S3Client) (*minio.Client, error) {
	lookup := minio.BucketLookupAuto
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	cl, err := minio.New(c.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       c.UseTLS,
		Region:       c.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return cl, nil
}

// Prefix is a configured key prefix as keys start with it: no leading
// slash, a trailing one unless it is empty.
func Prefix(p string) string {
	p = strings.TrimPrefix(p, "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}
