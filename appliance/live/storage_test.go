package live_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/live"
)

// segmentDir gives the hub a folder of segments, as the appliance does by
// default (hls.segment_dir), unless cfg keeps them in memory ("").
func segmentDir(t testing.TB, hub *live.Hub, cfg config.HLS) {
	t.Helper()
	if cfg.SegmentDir == "" {
		return
	}
	if err := hub.SetSegmentDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// With segments on disk: the parts of a complete segment (the last ones
// listed with their parts), now read from its file, are its bytes; the publication's folder holds the window's
// segments, and is removed when the muxer stops. In memory (segment_dir
// ""), nothing is written. Both serve the same bytes.
func TestSegmentStorage(t *testing.T) {
	tracks, aus := readClip(t, 6, 25)
	for _, dir := range []string{"live", ""} {
		t.Run("segment_dir="+dir, func(t *testing.T) {
			root := t.TempDir()
			hub, base := newHub(t, func(c *config.HLS) { c.SegmentDir = "" })
			if dir != "" {
				if err := hub.SetSegmentDir(root); err != nil {
					t.Fatal(err)
				}
			}
			s, err := hub.Publish("store", tracks)
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, s, aus)
			m, body := mediaPlaylist(t, base+"/live/store/main_stream.m3u8")
			if len(m.Segments) < 3 {
				t.Fatalf("want at least 3 complete segments:\n%s", body)
			}
			withParts := 0
			for _, seg := range m.Segments {
				if len(seg.Parts) > 0 {
					withParts++
				}
				code, whole, hdr := apptest.Get(t, http.DefaultClient, base+"/live/store/"+seg.URI)
				if code != 200 || hdr.Get("Content-Length") == "" || len(whole) == 0 {
					t.Fatalf("%s: %d %v", seg.URI, code, hdr)
				}
				var joined strings.Builder
				for _, p := range seg.Parts {
					code, b, hdr := apptest.Get(t, http.DefaultClient, base+"/live/store/"+p.URI)
					if code != 200 || hdr.Get("Content-Length") == "" {
						t.Fatalf("%s: %d %v", p.URI, code, hdr)
					}
					joined.WriteString(b)
				}
				if len(seg.Parts) > 0 && joined.String() != whole {
					t.Errorf("%s: its %d parts make %d bytes, not the segment's %d", seg.URI, len(seg.Parts), joined.Len(), len(whole))
				}
			}
			if withParts < 2 {
				t.Errorf("want complete segments with their parts listed:\n%s", body)
			}
			folders, err := filepath.Glob(filepath.Join(root, "store.*.hls"))
			if err != nil {
				t.Fatal(err)
			}
			if dir == "" {
				if len(folders) != 0 {
					t.Fatalf("in memory, yet folders %v", folders)
				}
				s.Close()
				return
			}
			if len(folders) != 1 {
				t.Fatalf("want one folder for the publication, got %v", folders)
			}
			files, err := os.ReadDir(folders[0])
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range files {
				names = append(names, f.Name())
			}
			for _, seg := range m.Segments {
				if !slices.Contains(names, seg.URI) {
					t.Errorf("segment %s is not in %s: %v", seg.URI, folders[0], names)
				}
			}
			// a new publication of the name replaces the ended one: the
			// ended one's folder goes with its muxer
			s.Close()
			s2, err := hub.Publish("store", tracks)
			if err != nil {
				t.Fatal(err)
			}
			apptest.WaitFor(t, 10*time.Second, "the ended publication's folder to be removed", func() bool {
				_, err := os.Stat(folders[0])
				return os.IsNotExist(err)
			})
			s2.Close()
		})
	}
}

// SetSegmentDir makes the folder, removes the publication folders an
// earlier run left, and leaves anything else alone.
func TestSegmentDirLeftovers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "live")
	if err := os.MkdirAll(filepath.Join(root, "cam1.abc123.hls"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cam1.abc123.hls", "x_video1_seg3.mp4"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{"notes", "cam1.hls", "-bad.x.hls"} {
		if err := os.MkdirAll(filepath.Join(root, keep), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "file.x.hls"), []byte("a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _ := newHub(t, func(c *config.HLS) { c.SegmentDir = "" })
	if err := h.SetSegmentDir(root); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if want := []string{"-bad.x.hls", "cam1.hls", "file.x.hls", "notes"}; !slices.Equal(got, want) {
		t.Errorf("after SetSegmentDir: %v, want %v", got, want)
	}
	if err := h.SetSegmentDir(filepath.Join(root, "new", "deeper")); err != nil {
		t.Errorf("a missing folder is made: %v", err)
	}
}

// A file system that refuses the segments does not stop the stream: with
// no folder for the publication (its path is a file), or files that cannot
// be created in it (the folder removed under the muxer), the segments are
// kept in memory and served as usual.
func TestSegmentDirFailures(t *testing.T) {
	tracks, aus := readClip(t, 4, 25)
	for _, c := range []string{"no folder", "no files"} {
		t.Run(c, func(t *testing.T) {
			root := t.TempDir()
			hub, base := newHub(t, func(c *config.HLS) { c.SegmentDir = "" })
			if err := hub.SetSegmentDir(root); err != nil {
				t.Fatal(err)
			}
			if c == "no folder" { // the folder of segments is now a file
				if err := os.Remove(root); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(root, []byte("not a folder"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := hub.Publish("fs", tracks)
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			if c == "no files" {
				folders, _ := filepath.Glob(filepath.Join(root, "fs.*.hls"))
				if len(folders) != 1 {
					t.Fatalf("folders %v", folders)
				}
				if err := os.RemoveAll(folders[0]); err != nil {
					t.Fatal(err)
				}
			}
			writeAll(t, s, aus)
			m, body := mediaPlaylist(t, base+"/live/fs/main_stream.m3u8")
			if len(m.Segments) < 2 {
				t.Fatalf("want complete segments:\n%s", body)
			}
			for _, seg := range m.Segments {
				code, b, _ := apptest.Get(t, http.DefaultClient, base+"/live/fs/"+seg.URI)
				if code != 200 || len(b) < 1000 {
					t.Errorf("%s: %d, %d bytes", seg.URI, code, len(b))
				}
				for _, p := range seg.Parts {
					if code, b, _ := apptest.Get(t, http.DefaultClient, base+"/live/fs/"+p.URI); code != 200 || len(b) == 0 {
						t.Errorf("%s: %d, %d bytes", p.URI, code, len(b))
					}
				}
			}
			s.Close()
		})
	}
}
