package config

import (
	"strings"
	"testing"
)

func TestPublishValidation(t *testing.T) {
	_, _, err := Parse("t.toml", []byte("[publish.s3]\nbucket = \"b\"\nendpoint = \"https://s3.example.com\"\nprefix = \"/box1\"\npublic_url = \"cdn.example.com\"\nconcurrency = 0\n"))
	if err == nil {
		t.Fatal("bad [publish.s3] accepted")
	}
	for _, want := range []string{
		"t.toml:3: publish.s3.endpoint", "t.toml:4: publish.s3.prefix", "t.toml:5: publish.s3.public_url",
		"t.toml:6: publish.s3.concurrency", "publish.s3.access_key", "publish.s3.secret_key",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem for %s in:\n%v", want, err)
		}
	}
	// public_url without a bucket says what is missing
	_, _, err = Parse("t.toml", []byte("[publish.s3]\npublic_url = \"https://cdn.example.com/\"\n"))
	if err == nil || !strings.Contains(err.Error(), "publish.s3.public_url: needs publish.s3.bucket") {
		t.Errorf("public_url without bucket: %v", err)
	}
	// public_url would serve titles that viewer_auth keeps behind a login
	_, _, err = Parse("t.toml", []byte("[http]\nviewer_auth = true\n[publish.s3]\nbucket = \"b\"\nendpoint = \"s3\"\naccess_key = \"a\"\nsecret_key = \"s\"\npublic_url = \"https://cdn.example.com/\"\n"))
	if err == nil || !strings.Contains(err.Error(), "t.toml:8: publish.s3.public_url: http.viewer_auth is on") {
		t.Errorf("public_url with viewer_auth: %v", err)
	}
	t.Setenv("THECURE_PUBLISH_S3_SECRET_KEY", "from-env")
	cfg, _, err := Parse("t.toml", []byte("[publish.s3]\nendpoint = \"s3.example.com\"\nbucket = \"b\"\naccess_key = \"a\"\npublic_url = \"https://cdn.example.com/box1/\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Publish.S3; s.SecretKey != "from-env" || !s.Enabled() || s.Client().SecretKey != "from-env" {
		t.Errorf("publish.s3 = %+v", s)
	}
	if Default().Publish.S3.Enabled() {
		t.Error("publishing is on by default")
	}
}
