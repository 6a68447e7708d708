package live_test

import (
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/live"
)

// Audio and video are muxed in one stream, main_stream.m3u8, in every
// variant (the fMP4 ones included: one init file with both tracks, parts
// and segments carrying both), so a player makes one playlist request and
// one media request per part or segment. The multivariant playlist lists
// that one variant with both codecs and no audio rendition; ffprobe finds
// both streams in the media playlist, ffmpeg decodes all of it without an
// error, and the stream lasts as long as what was published. Audio-only and
// video-only streams work the same way.
func TestAudioAndVideoInOneStream(t *testing.T) {
	tracks, aus := readClip(t, 4, 25)
	for _, variant := range []string{config.HLSLowLatency, config.HLSFMP4, config.HLSMPEGTS} {
		for _, kind := range []string{"av", "audio", "video"} {
			t.Run(variant+"/"+kind, func(t *testing.T) {
				t.Parallel()
				tr := tracks
				switch kind {
				case "audio":
					tr.H264 = nil
				case "video":
					tr.AAC = nil
				}
				hub, base := newHub(t, func(c *config.HLS) { c.Variant = variant })
				s, err := hub.Publish("one", tr)
				if err != nil {
					t.Fatal(err)
				}
				var first, last time.Duration = -1, 0
				var nv, na int
				for _, a := range aus {
					switch {
					case a.Video != nil && tr.H264 != nil:
						err = s.WriteH264(a.PTS, a.Video)
						nv++
					case a.Video == nil && tr.AAC != nil:
						err = s.WriteAAC(a.PTS, a.Audio)
						na++
					default:
						continue
					}
					if err != nil {
						t.Fatalf("write at %s: %v", a.PTS, err)
					}
					if first < 0 {
						first = a.PTS
					}
					last = a.PTS
				}
				s.Close()

				code, body, _ := apptest.Get(t, http.DefaultClient, base+"/live/one/index.m3u8")
				if code != 200 {
					t.Fatalf("multivariant playlist: %d\n%s", code, body)
				}
				pl, err := playlist.Unmarshal([]byte(body))
				if err != nil {
					t.Fatalf("multivariant playlist: %v\n%s", err, body)
				}
				mv, ok := pl.(*playlist.Multivariant)
				if !ok || len(mv.Variants) != 1 || mv.Variants[0].URI != "main_stream.m3u8" || len(mv.Renditions) != 0 ||
					mv.Variants[0].Audio != "" || mv.Variants[0].Bandwidth <= 0 {
					t.Fatalf("want one variant, main_stream.m3u8, no rendition:\n%s", body)
				}
				codecs := strings.Join(mv.Variants[0].Codecs, ",")
				if strings.Contains(codecs, "avc1.") != (tr.H264 != nil) || strings.Contains(codecs, "mp4a.40.2") != (tr.AAC != nil) {
					t.Errorf("CODECS %q for tracks video %v audio %v", codecs, tr.H264 != nil, tr.AAC != nil)
				}

				media := base + "/live/one/main_stream.m3u8"
				if variant == config.HLSLowLatency {
					// a segment is its parts, served from the same bytes
					_, body, _ := apptest.Get(t, http.DefaultClient, media)
					pl, err := playlist.Unmarshal([]byte(body))
					if err != nil {
						t.Fatalf("media playlist: %v\n%s", err, body)
					}
					checked := 0
					for _, seg := range pl.(*playlist.Media).Segments {
						if len(seg.Parts) == 0 {
							continue
						}
						var parts string
						for _, p := range seg.Parts {
							_, b, _ := apptest.Get(t, http.DefaultClient, base+"/live/one/"+p.URI)
							parts += b
						}
						if _, b, _ := apptest.Get(t, http.DefaultClient, base+"/live/one/"+seg.URI); b != parts || len(b) == 0 {
							t.Errorf("%s: %d bytes, its %d parts %d bytes", seg.URI, len(b), len(seg.Parts), len(parts))
						}
						checked++
					}
					if checked == 0 {
						t.Errorf("no segment with parts:\n%s", body)
					}
				}
				out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration",
					"-of", "default=nw=1", media).CombinedOutput()
				if err != nil {
					t.Fatalf("ffprobe: %v\n%s", err, out)
				}
				if strings.Contains(string(out), "codec_name=h264") != (tr.H264 != nil) ||
					strings.Contains(string(out), "codec_name=aac") != (tr.AAC != nil) {
					t.Errorf("ffprobe of main_stream.m3u8 (video %v, audio %v):\n%s", tr.H264 != nil, tr.AAC != nil, out)
				}
				var d float64
				for _, l := range strings.Split(string(out), "\n") {
					if v, ok := strings.CutPrefix(l, "duration="); ok {
						d, _ = strconv.ParseFloat(v, 64)
					}
				}
				want := (last - first).Seconds()
				if d < want-0.1 || d > want+0.2 {
					t.Errorf("duration %.3f s, published %.3f s:\n%s", d, want, out)
				}

				// every frame decodes, no error on the way
				out, err = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-xerror",
					"-i", media, "-f", "null", "-").CombinedOutput()
				if err != nil || len(strings.TrimSpace(string(out))) != 0 {
					t.Errorf("ffmpeg decoding main_stream.m3u8: %v\n%s", err, out)
				}
				if v, a := packets(t, media); v != nv || a != na {
					t.Errorf("%d video and %d audio packets, published %d and %d", v, a, nv, na)
				}
				t.Logf("%s: %d video + %d audio packets, %.3f s (published %.3f s)", codecs, nv, na, d, want)
				if hub.Status("one").State != live.StateEnded {
					t.Errorf("state %v, want ended", hub.Status("one").State)
				}
			})
		}
	}
}
