package rtmp

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
)

// Refusals from one address make one line per interval; the ones not
// logged are counted on the next line or by the sweep; other addresses have
// their own lines; quiet addresses are forgotten.
func TestRefusalsRateLimited(t *testing.T) {
	var buf apptest.SyncBuffer
	r := newRefusals(slog.New(slog.NewTextHandler(&buf, nil)))
	r.every = 200 * time.Millisecond
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for range 100 {
		r.warn(a, "refused", "reason", "x")
	}
	r.warn(b, "refused", "reason", "y")
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("%d lines for 101 refusals from 2 addresses, want 2:\n%s", n, buf.String())
	}
	time.Sleep(250 * time.Millisecond)
	r.sweep()
	if !strings.Contains(buf.String(), "remote=192.0.2.1 count=99") {
		t.Errorf("no count of the 99 not logged:\n%s", buf.String())
	}
	for range 5 {
		r.warn(a, "refused", "reason", "x")
	}
	time.Sleep(250 * time.Millisecond)
	r.warn(a, "refused", "reason", "x")
	if !strings.Contains(buf.String(), "not_logged=5") {
		t.Errorf("no count on the next line:\n%s", buf.String())
	}
	time.Sleep(250 * time.Millisecond)
	r.sweep()
	if len(r.m) != 0 {
		t.Errorf("%d quiet addresses still tracked", len(r.m))
	}
	// past maxRefusalKeys, new addresses share one entry
	for i := range maxRefusalKeys + 10 {
		r.warn(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "refused")
	}
	if len(r.m) != maxRefusalKeys+1 || r.m[netip.Addr{}] == nil {
		t.Errorf("%d addresses tracked, want %d and the shared entry", len(r.m), maxRefusalKeys+1)
	}
	if got := clip(strings.Repeat("é", 100)); len(got) > maxClientValue+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("clip: %q", got)
	}
}
