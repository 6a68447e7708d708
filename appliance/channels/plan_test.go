package channels

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"thecure/appliance/config"
)

func testPlan(order string, n int, epoch time.Time) *plan {
	ch := config.Channel{Name: "tv", Folder: "pelis"}
	ch.SetDefaults()
	ch.Order = order
	p := &plan{cfg: ch, epoch: epoch, byID: map[string]*candidate{}, bySource: map[string]*candidate{},
		slateDur: slateLength, folderOf: func(string) []*candidate { return nil }}
	for i := range n {
		src := fmt.Sprintf("pelis/%02d.mp4", i)
		p.cands = append(p.cands, candidate{id: fmt.Sprint(i), source: src, key: "1" + src, dur: time.Duration(i+1) * time.Second})
	}
	for i := range p.cands {
		p.byID[p.cands[i].id] = &p.cands[i]
	}
	return p
}

func ids(p *plan, from time.Time, n int) []string {
	var out []string
	s := p.first(from)
	for range n {
		out = append(out, s.TitleID)
		s = p.advance(s)
	}
	return out
}

// TestShuffle: every title once per cycle, a new order each cycle, the same
// orders for the same channel and epoch (after a restart), other orders
// for another epoch.
func TestShuffle(t *testing.T) {
	epoch := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := testPlan(config.OrderShuffle, 8, epoch)
	got := ids(p, epoch, 24)
	for c := range 3 {
		cycle := slices.Clone(got[c*8 : c*8+8])
		slices.Sort(cycle)
		if fmt.Sprint(cycle) != "[0 1 2 3 4 5 6 7]" {
			t.Errorf("cycle %d plays %v", c, got[c*8:c*8+8])
		}
	}
	if slices.Equal(got[:8], got[8:16]) && slices.Equal(got[8:16], got[16:]) {
		t.Errorf("the same order every cycle: %v", got)
	}
	if again := ids(testPlan(config.OrderShuffle, 8, epoch), epoch, 24); !slices.Equal(got, again) {
		t.Errorf("another run of the same channel: %v, was %v", again, got)
	}
	if other := ids(testPlan(config.OrderShuffle, 8, epoch.Add(time.Second)), epoch, 24); slices.Equal(got, other) {
		t.Errorf("another epoch, the same orders: %v", other)
	}
	if seq := ids(testPlan(config.OrderSequential, 3, epoch), epoch, 6); fmt.Sprint(seq) != "[0 1 2 0 1 2]" {
		t.Errorf("sequential: %v", seq)
	}
}

// TestNoLoopEndsOnTheSlate: a channel that does not loop shows the slate
// after its last title, and plays a title that becomes ready later.
func TestNoLoopEndsOnTheSlate(t *testing.T) {
	epoch := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := testPlan(config.OrderSequential, 2, epoch)
	p.cfg.Loop = false
	s := p.first(epoch)
	var kinds []string
	for range 4 {
		kinds = append(kinds, s.TitleID+"/"+s.Kind)
		s = p.advance(s)
	}
	if fmt.Sprint(kinds) != "[0/ 1/ /slate /slate]" {
		t.Errorf("no loop: %v", kinds)
	}
	p.cands = append(p.cands, candidate{id: "new", source: "pelis/zz.mp4", key: "1pelis/zz.mp4", dur: time.Second})
	if s = p.advance(s); s.TitleID != "new" {
		t.Errorf("after the slate: %+v", s)
	}
}
