package live_test

import (
	"net/http"
	"strings"
	"testing"
)

// Live HLS is readable from any origin: GET answers carry
// Access-Control-Allow-Origin and expose Content-Range; the preflight
// (OPTIONS) answer lists the methods and headers a page may use.
func TestCORS(t *testing.T) {
	tracks, aus := readClip(t, 3, 25)
	hub, base := newHub(t, nil)
	s, err := hub.Publish("cors", tracks)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAll(t, s, aus)
	req, _ := http.NewRequest(http.MethodOptions, base+"/live/cors/main_stream.m3u8", nil)
	req.Header.Set("Origin", "https://example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "range")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "range") || h.Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
	for _, u := range []string{"index.m3u8", "main_stream.m3u8"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/live/cors/"+u, nil)
		req.Header.Set("Origin", "https://example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Content-Range") {
			t.Errorf("GET %s: %d %v", u, resp.StatusCode, h)
		}
	}
}
