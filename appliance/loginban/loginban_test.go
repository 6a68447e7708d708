package loginban

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBanAtThreshold(t *testing.T) {
	l := New(3, time.Minute, 10*time.Minute)
	for i := range 2 {
		if l.Failed("a", t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("banned after %d failures", i+1)
		}
	}
	if !l.Failed("a", t0.Add(2*time.Second)) {
		t.Fatal("not banned at the third failure")
	}
	if b, left := l.Banned("a", t0.Add(3*time.Second)); !b || left != 10*time.Minute-time.Second {
		t.Fatalf("banned=%v left=%v", b, left)
	}
	if b, _ := l.Banned("b", t0); b {
		t.Fatal("another address is banned")
	}
}

// The window edge: a failure exactly Window old no longer counts; a ban
// exactly BanTime old is over. (The FTP and web copies disagreed here.)
func TestWindowAndBanEdges(t *testing.T) {
	l := New(2, time.Minute, time.Hour)
	l.Failed("a", t0)
	if l.Failed("a", t0.Add(time.Minute)) {
		t.Fatal("a failure exactly one window old still counted")
	}
	if !l.Failed("a", t0.Add(time.Minute+59*time.Second)) {
		t.Fatal("two failures within the window did not ban")
	}
	end := t0.Add(time.Minute + 59*time.Second + time.Hour)
	if b, _ := l.Banned("a", end.Add(-time.Nanosecond)); !b {
		t.Fatal("ban over early")
	}
	if b, _ := l.Banned("a", end); b {
		t.Fatal("ban still on at its end")
	}
}

func TestSucceededAndDisabled(t *testing.T) {
	l := New(2, time.Minute, time.Hour)
	l.Failed("a", t0)
	l.Succeeded("a")
	if l.Failed("a", t0.Add(time.Second)) {
		t.Fatal("a success did not reset the count")
	}
	off := New(0, time.Minute, time.Hour)
	for i := range 100 {
		if off.Failed("a", t0.Add(time.Duration(i))) {
			t.Fatal("a disabled list banned")
		}
	}
}

// Property: whatever the order of failures, an address is banned exactly
// when After failures fall within some window, and memory stays bounded
// under a spray of addresses.
func TestPropertyAgainstModel(t *testing.T) {
	l := New(3, 10*time.Second, time.Minute)
	var hist []time.Time
	var bannedUntil time.Time
	now := t0
	for i := range 2000 {
		now = now.Add(time.Duration((i*7919)%4000) * time.Millisecond)
		wantBanned := now.Before(bannedUntil)
		if b, _ := l.Banned("x", now); b != wantBanned {
			t.Fatalf("step %d: banned=%v, model %v", i, b, wantBanned)
		}
		if wantBanned {
			continue
		}
		n := 1
		for _, h := range hist {
			if now.Sub(h) < 10*time.Second {
				n++
			}
		}
		got := l.Failed("x", now)
		if got != (n >= 3) {
			t.Fatalf("step %d: ban=%v with %d failures in the window", i, got, n)
		}
		hist = append(hist, now)
		if got {
			hist, bannedUntil = nil, now.Add(time.Minute)
		}
	}
	for i := range 3 * maxTracked {
		l.Failed(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
	}
	if n := l.Len(); n > maxTracked+1 {
		t.Fatalf("%d addresses remembered (bound %d)", n, maxTracked)
	}
	t.Logf("after %d sprayed addresses: %d remembered", 3*maxTracked, l.Len())
}
