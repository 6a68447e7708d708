package backup

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"thecure/appliance/config"
	"thecure/appliance/tlscert"
)

// s3Server starts an S3 server (gofakes3) on loopback and returns the
// [backup.s3] section for its bucket.
func s3Server(t *testing.T) config.BackupS3 {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("thecure-backups"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return config.BackupS3{Enabled: true, Endpoint: u.Host, Bucket: "thecure-backups", Prefix: "box1/",
		Region: "us-east-1", AccessKey: "AKIDTEST", SecretKey: "secret", PathStyle: true, UseTLS: false}
}

func TestS3Repository(t *testing.T) {
	ctx := t.Context()
	c := localConfig()
	c.Dir = "" // S3 only
	c.S3 = s3Server(t)
	b := newBox(t, c)
	for i := range uint64(50) {
		if err := putRecord(b.st, i); err != nil {
			t.Fatal(err)
		}
	}
	s := b.service(t, Deps{})
	if len(s.Repos()) != 1 || !strings.HasPrefix(s.Repos()[0].String(), "s3://") {
		t.Fatalf("repos = %v", s.Repos())
	}
	m1, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m1.Copied != m1.Size {
		t.Errorf("first backup copied %d of %d bytes", m1.Copied, m1.Size)
	}
	writeFile(t, filepath.Join(b.dir, "media", "series", "ep1.mkv"), strings.Repeat("ep", 30000))
	// Large enough for a multipart upload (over minio-go's 16 MiB part size).
	writeFile(t, filepath.Join(b.dir, "media", "series", "ep2.mkv"), strings.Repeat("episode two ", 1500000))
	m2, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var storeSize int64
	for _, f := range m2.Files {
		if f.Kind == KindStore {
			storeSize = f.Size
		}
	}
	// The store did not change between the two backups: only the new file is copied.
	if want := int64(60000 + 18000000); m2.Copied != want {
		t.Errorf("incremental backup copied %d bytes, want %d (the new files; the store did not change, store %d)", m2.Copied, want, storeSize)
	}

	if left, _ := filepath.Glob(filepath.Join(b.dir, ".backup-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	repo := s.Repos()[0]
	list, err := repo.List(ctx)
	if err != nil || len(list) != 2 || list[0].State != StateComplete || list[1].ID != m2.ID {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if _, probs, err := repo.Verify(ctx, m2.ID, nil); err != nil || len(probs) > 0 {
		t.Fatalf("verify: %v %v", probs, err)
	}

	fresh := filepath.Join(t.TempDir(), "data")
	if _, err := repo.Restore(ctx, m2.ID, RestoreOptions{DataDir: fresh, ConfigTo: filepath.Join(fresh, "config.toml"),
		MediaDir: filepath.Join(fresh, "media"), HLSDir: filepath.Join(fresh, "hls")}); err != nil {
		t.Fatal(err)
	}
	if n := checkRecords(t, fresh); n != 50 {
		t.Errorf("restored %d records, want 50", n)
	}
	for _, rel := range []string{tlscert.SelfSignedKey, "media/pelis/film.mp4", "media/series/ep1.mkv", "media/series/ep2.mkv", "hls/film/seg0.m4s"} {
		sameFile(t, filepath.Join(b.dir, rel), filepath.Join(fresh, rel))
	}
	sameFile(t, b.configFile, filepath.Join(fresh, "config.toml"))

	// An object overwritten on the server is caught by verify.
	var song File
	for _, f := range m2.Files {
		if f.Path == "musica/song.mp3" {
			song = f
		}
	}
	st := repo.t.(*s3Target)
	bad := bytes.Repeat([]byte("gnos"), 3000)
	if _, err := st.c.PutObject(ctx, st.bucket, st.prefix+objectKey(song.SHA256), bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, probs, err := repo.Verify(ctx, m2.ID, nil)
	if err != nil || len(probs) != 1 || !strings.Contains(probs[0].String(), "musica/song.mp3") {
		t.Errorf("verify after corruption: %v %v", probs, err)
	}
}

func TestLocalAndS3Together(t *testing.T) {
	ctx := t.Context()
	c := localConfig()
	c.S3 = s3Server(t)
	b := newBox(t, c)
	s := b.service(t, Deps{})
	m, err := s.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Repos()) != 2 {
		t.Fatalf("repos = %v", s.Repos())
	}
	for _, r := range s.Repos() {
		if _, probs, err := r.Verify(ctx, m.ID, nil); err != nil || len(probs) > 0 {
			t.Errorf("%s: %v %v", r, probs, err)
		}
	}
}
