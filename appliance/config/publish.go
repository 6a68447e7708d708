package config

import (
	"net/url"
	"strings"
)

// Publish configures copies of the HLS output kept elsewhere for viewers.
type Publish struct {
	// S3 is an S3-compatible bucket that a CDN serves: VOD titles and live
	// streams are copied into it as they are made.
	S3 PublishS3 `toml:"s3"`
}

// PublishS3 is the bucket the HLS output is published to. It is on when
// Bucket is set. The client keys are those of [backup.s3].
type PublishS3 struct {
	Endpoint      string `toml:"endpoint"` // host[:port], no scheme
	Bucket        string `toml:"bucket"`
	Prefix        string `toml:"prefix"` // key prefix: one per appliance sharing the bucket
	Region        string `toml:"region"`
	AccessKey     string `toml:"access_key"`
	SecretKey     string `toml:"secret_key" secret:"THECURE_PUBLISH_S3_SECRET_KEY"`
	SecretKeyFile string `toml:"secret_key_file"`
	PathStyle     bool   `toml:"path_style"`
	UseTLS        bool   `toml:"use_tls"`
	// PublicURL is where viewers reach the bucket's prefix (a CDN); pages
	// and /api/library point players there. Empty: players use this box.
	PublicURL string `toml:"public_url"`
	// Concurrency bounds the uploads and deletions in flight, for VOD titles
	// and as many again for live streams.
	Concurrency int `toml:"concurrency"`
	// Live also publishes live streams (segments and playlists).
	Live bool `toml:"live"`
}

// maxPublishConcurrency bounds publish.s3.concurrency.
const maxPublishConcurrency = 64

// Enabled reports whether publishing is on (a bucket is set).
func (c PublishS3) Enabled() bool { return c.Bucket != "" }

// S3Client is what an S3 client needs: the keys [backup.s3] and
// [publish.s3] share.
type S3Client struct {
	Endpoint, Region, AccessKey, SecretKey string
	PathStyle, UseTLS                      bool
}

// Client is the publish bucket's client settings.
func (c PublishS3) Client() S3Client {
	return S3Client{Endpoint: c.Endpoint, Region: c.Region, AccessKey: c.AccessKey, SecretKey: c.SecretKey,
		PathStyle: c.PathStyle, UseTLS: c.UseTLS}
}

// Client is the backup bucket's client settings.
func (c BackupS3) Client() S3Client {
	return S3Client{Endpoint: c.Endpoint, Region: c.Region, AccessKey: c.AccessKey, SecretKey: c.SecretKey,
		PathStyle: c.PathStyle, UseTLS: c.UseTLS}
}

func defaultPublish() Publish {
	return Publish{S3: PublishS3{Prefix: "thecure/", Region: "us-east-1", UseTLS: true, Concurrency: 4, Live: true}}
}

func (v *validator) publish(c *Publish, viewerAuth bool) {
	s := c.S3
	v.check(s.Concurrency >= 1, "publish.s3.concurrency", "must be at least 1")
	atMost(v, "publish.s3.concurrency", s.Concurrency, maxPublishConcurrency)
	v.check(!strings.HasPrefix(s.Prefix, "/") && !strings.Contains(s.Prefix, "//") && !strings.Contains(s.Prefix, "..") &&
		!strings.ContainsAny(s.Prefix, "\\?#\x00"),
		"publish.s3.prefix", "must be a relative key prefix such as \"box1/\" (no leading /, no //, .., \\, ? or #)")
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		v.check(err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && u.Fragment == "",
			"publish.s3.public_url", "must be an http(s) URL without query, such as \"https://cdn.example.com/thecure/\"")
	}
	v.check(s.PublicURL == "" || !viewerAuth, "publish.s3.public_url",
		"http.viewer_auth is on: players sent to public_url would get titles without a login (unset one of them)")
	if !s.Enabled() {
		v.check(s.PublicURL == "", "publish.s3.public_url", "needs publish.s3.bucket")
		return
	}
	v.check(s.Endpoint != "" && !strings.Contains(s.Endpoint, "://"), "publish.s3.endpoint", "must be host[:port] without a scheme (use_tls picks https)")
	v.check(s.AccessKey != "", "publish.s3.access_key", "must not be empty")
	v.secret(s.SecretKey != "", "publish.s3.secret_key", "must be set (secret_key_file or THECURE_PUBLISH_S3_SECRET_KEY)")
}
