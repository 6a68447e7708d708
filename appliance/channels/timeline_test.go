package channels

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
	"thecure/appliance/health"
)

// plays records what the channels play.
type plays struct {
	mu   sync.Mutex
	list []played
	now  func() time.Time
}

type played struct {
	e    Entry
	from time.Duration
	at   time.Time // the channels' clock when it started
}

func (p *plays) hook(_ string, e Entry, from time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, played{e: e, from: from, at: p.now()})
}

func (p *plays) get() []played {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]played(nil), p.list...)
}

// TestRestartResumesMidTitle stops a channel in the middle of a title and
// starts it again: it resumes in that title where the clock is, from the
// keyframe before, with the same timeline.
func TestRestartResumesMidTitle(t *testing.T) {
	tb := newTestbed(t)
	a := tb.title(t, "pelis/a.mp4", 8, 360, "libx264", "440")
	tb.title(t, "pelis/b.mp4", 8, 360, "libx264", "880")
	svc := tb.service(t, testChannel(), nil)
	p1 := &plays{now: time.Now}
	svc.onPlay = p1.hook
	stop := runService(t, svc)
	apptest.WaitFor(t, 20*time.Second, "the first title on air", func() bool { return len(p1.get()) > 0 })
	first := p1.get()[0]
	if first.e.TitleID != a || first.from != 0 {
		t.Fatalf("first play %+v", first)
	}
	before := svc.Programme("tv", first.e.Start, first.e.Start.Add(time.Minute))
	time.Sleep(2500 * time.Millisecond)
	stop()
	time.Sleep(1500 * time.Millisecond)

	svc2 := tb.service(t, testChannel(), nil)
	p2 := &plays{now: time.Now}
	svc2.onPlay = p2.hook
	runService(t, svc2)
	apptest.WaitFor(t, 20*time.Second, "the channel on air again", func() bool { return len(p2.get()) > 0 })
	again := p2.get()[0]
	if again.e.TitleID != a || !again.e.Start.Equal(first.e.Start) {
		t.Fatalf("after the restart %+v, want the same entry %+v", again.e, first.e)
	}
	// 4 s into the title, segments of 1 s or a little more (cut at the
	// first keyframe after 1 s): it resumes at the start of the segment (a
	// keyframe) at or before the clock
	pos := again.at.Sub(again.e.Start)
	if again.from <= 0 || again.from > pos || pos-again.from > 1500*time.Millisecond {
		t.Errorf("resumed from %v at %v into the title", again.from, pos)
	}
	after := svc2.Programme("tv", first.e.Start, first.e.Start.Add(time.Minute))
	if !sameEntries(before, after) {
		t.Errorf("the timeline changed across the restart:\n%v\n%v", before, after)
	}
}

// TestScheduleTakesTheAir puts a schedule entry a few seconds ahead of an
// injected clock (days away from the real one): the title takes the air at
// its time, cutting the one on air, and the rotation follows.
func TestScheduleTakesTheAir(t *testing.T) {
	tb := newTestbed(t)
	tb.title(t, "pelis/a.mp4", 8, 360, "libx264", "440")
	tb.title(t, "pelis/b.mp4", 8, 360, "libx264", "880")
	special := tb.title(t, "especial/s.mp4", 3, 360, "libx264", "660")
	offset := 3*24*time.Hour + 7*time.Hour
	now := func() time.Time { return time.Now().Add(offset) }
	at := now().Add(5 * time.Second).Truncate(time.Second)
	ch := testChannel()
	ch.Schedule = []config.ChannelSlot{{At: at.Format(time.RFC3339), Title: "especial/s.mp4"}}
	svc := tb.service(t, ch, now)
	p := &plays{now: now}
	svc.onPlay = p.hook
	runService(t, svc)
	var got played
	apptest.WaitFor(t, 30*time.Second, "the scheduled title on air", func() bool {
		for _, x := range p.get() {
			if x.e.TitleID == special {
				got = x
				return true
			}
		}
		return false
	})
	if !got.e.Start.Equal(at) {
		t.Errorf("scheduled title starts at %v, want %v", got.e.Start, at)
	}
	// within one segment (1 s) of its time
	if late := got.at.Sub(at); late < -time.Second || late > time.Second {
		t.Errorf("scheduled title took the air %v after its time", late)
	}
	prog := svc.Programme("tv", at.Add(-10*time.Second), at.Add(10*time.Second))
	for i, e := range prog {
		if e.TitleID == special && (i == 0 || !prog[i-1].End.Equal(at) || i+1 == len(prog) || prog[i+1].TitleID == special) {
			t.Errorf("programme around the schedule: %+v", prog)
		}
	}
}

// TestRotationFollowsTheCatalogue: a new title joins the rotation, a
// deleted one leaves it, one that cannot be read is skipped and alerted.
func TestRotationFollowsTheCatalogue(t *testing.T) {
	tb := newTestbed(t)
	a := tb.title(t, "pelis/a.mp4", 2, 360, "libx264", "440")
	b := tb.title(t, "pelis/b.mp4", 2, 360, "libx264", "880")
	svc := tb.service(t, testChannel(), nil)
	runService(t, svc)
	ids := func() map[string]bool {
		m := map[string]bool{}
		now := time.Now()
		for _, e := range svc.Programme("tv", now, now.Add(30*time.Second)) {
			m[e.TitleID] = true
		}
		return m
	}
	apptest.WaitFor(t, 20*time.Second, "a and b in the programme", func() bool { m := ids(); return m[a] && m[b] })
	c := tb.title(t, "pelis/c.mp4", 2, 360, "libx264", "660")
	apptest.WaitFor(t, 10*time.Second, "c joins", func() bool { return ids()[c] })
	if _, err := tb.cat.Forget(b); err != nil {
		t.Fatal(err)
	}
	if err := tb.cat.RemoveFiles(b); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 10*time.Second, "b leaves", func() bool { return !ids()[b] })

	// c's segments become garbage: it is skipped, said on health and alerted
	for _, f := range []string{"seg00001.m4s", "seg00002.m4s"} {
		if err := os.WriteFile(filepath.Join(tb.cat.Dir(c), "360p", f), []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	apptest.WaitFor(t, 20*time.Second, "an alert for c", func() bool { return len(tb.alerts.list()) > 0 })
	if al := tb.alerts.list(); !strings.Contains(al[0], AlertUnreadable+": tv | c") {
		t.Errorf("alerts %v", al)
	}
	apptest.WaitFor(t, 10*time.Second, "c left out", func() bool { return !ids()[c] })
	found := false
	for _, s := range tb.health.Snapshot() {
		found = found || s.Name == "channels" && s.State == health.Degraded && strings.Contains(s.Detail, `"c" cannot be read`)
	}
	if !found {
		t.Errorf("health: %+v", tb.health.Snapshot())
	}
}

func sameEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].TitleID != b[i].TitleID || !a[i].Start.Equal(b[i].Start) || !a[i].End.Equal(b[i].End) {
			return false
		}
	}
	return true
}

// TestDeletedOnAir deletes the title on air: with on_delete = "cut" the
// next title takes the air at once; with "finish" it plays to its end.
func TestDeletedOnAir(t *testing.T) {
	for _, mode := range []string{config.OnDeleteCut, config.OnDeleteFinish} {
		t.Run(mode, func(t *testing.T) {
			tb := newTestbed(t)
			a := tb.title(t, "pelis/a.mp4", 6, 360, "libx264", "440")
			b := tb.title(t, "pelis/b.mp4", 6, 360, "libx264", "880")
			ch := testChannel()
			ch.OnDelete = mode
			svc := tb.service(t, ch, nil)
			p := &plays{now: time.Now}
			svc.onPlay = p.hook
			runService(t, svc)
			apptest.WaitFor(t, 20*time.Second, "a on air", func() bool { return len(p.get()) > 0 })
			first := p.get()[0]
			if first.e.TitleID != a {
				t.Fatalf("first play %+v", first)
			}
			time.Sleep(2 * time.Second)
			deleted := time.Now()
			if _, err := tb.cat.Forget(a); err != nil {
				t.Fatal(err)
			}
			if err := tb.cat.RemoveFiles(a); err != nil {
				t.Fatal(err)
			}
			apptest.WaitFor(t, 20*time.Second, "b on air", func() bool {
				for _, x := range p.get() {
					if x.e.TitleID == b {
						return true
					}
				}
				return false
			})
			var next played
			for _, x := range p.get() {
				if x.e.TitleID == b {
					next = x
					break
				}
			}
			switch mode {
			case config.OnDeleteCut:
				// cut within the check interval (1 s of media) after the deletion
				if next.e.Start.Before(deleted.Add(-200*time.Millisecond)) || next.e.Start.After(deleted.Add(1500*time.Millisecond)) {
					t.Errorf("b starts at %v, a deleted at %v", next.e.Start, deleted)
				}
			case config.OnDeleteFinish:
				if !next.e.Start.Equal(first.e.End) {
					t.Errorf("b starts at %v, a was to end at %v", next.e.Start, first.e.End)
				}
			}
			if al := tb.alerts.list(); len(al) > 0 {
				t.Errorf("alerts for a deleted title: %v", al)
			}
		})
	}
}

// TestSlate: a channel with nothing to play shows its slate (made once
// with ffmpeg at the profile's size, kept in its directory) rather than
// going off air, and a title that becomes ready takes over after it.
func TestSlate(t *testing.T) {
	tb := newTestbed(t)
	svc := tb.service(t, testChannel(), nil)
	p := &plays{now: time.Now}
	svc.onPlay = p.hook
	runService(t, svc)
	apptest.WaitFor(t, 30*time.Second, "the slate on air", func() bool { return len(p.get()) > 0 })
	if e := p.get()[0].e; e.Kind != "slate" || e.TitleID != "" || e.End.Sub(e.Start) != slateLength {
		t.Errorf("first entry %+v", e)
	}
	if _, err := os.Stat(filepath.Join(tb.dir, "channels", "slate-360p", "360p", "index.m3u8")); err != nil {
		t.Errorf("slate not kept: %v", err)
	}
	rec := filepath.Join(tb.dir, "slate.ts")
	errs, _, _ := record(t, "rtmp://"+tb.rtmpAddr+"/live/tv", rec, 3*time.Second)
	if strings.TrimSpace(errs) != "" {
		t.Errorf("ffmpeg errors on the slate:\n%s", errs)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=width,height",
		"-of", "csv=p=0", rec).Output()
	if f := strings.Fields(string(out)); err != nil || len(f) == 0 || f[0] != "640,360" {
		t.Errorf("slate size %q %v", out, err)
	}
	a := tb.title(t, "pelis/a.mp4", 2, 360, "libx264", "440")
	apptest.WaitFor(t, 20*time.Second, "the title after the slate", func() bool {
		for _, x := range p.get() {
			if x.e.TitleID == a {
				return true
			}
		}
		return false
	})
}

// TestDeletedWhileStopped: the title on air at a stop was deleted before
// the restart: the channel goes on with the next one, and nobody is
// alerted (nothing failed to read).
func TestDeletedWhileStopped(t *testing.T) {
	tb := newTestbed(t)
	a := tb.title(t, "pelis/a.mp4", 8, 360, "libx264", "440")
	b := tb.title(t, "pelis/b.mp4", 8, 360, "libx264", "880")
	svc := tb.service(t, testChannel(), nil)
	p1 := &plays{now: time.Now}
	svc.onPlay = p1.hook
	stop := runService(t, svc)
	apptest.WaitFor(t, 20*time.Second, "a on air", func() bool { return len(p1.get()) > 0 })
	if p1.get()[0].e.TitleID != a {
		t.Fatalf("first play %+v", p1.get()[0])
	}
	stop()
	if _, err := tb.cat.Forget(a); err != nil {
		t.Fatal(err)
	}
	if err := tb.cat.RemoveFiles(a); err != nil {
		t.Fatal(err)
	}
	svc2 := tb.service(t, testChannel(), nil)
	p2 := &plays{now: time.Now}
	svc2.onPlay = p2.hook
	runService(t, svc2)
	apptest.WaitFor(t, 20*time.Second, "b on air", func() bool { return len(p2.get()) > 0 })
	if got := p2.get()[0].e.TitleID; got != b {
		t.Errorf("after the restart %s airs, want b", got)
	}
	if al := tb.alerts.list(); len(al) > 0 {
		t.Errorf("alerts: %v", al)
	}
}
