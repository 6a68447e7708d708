package channels

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"thecure/appliance/config"
	"thecure/appliance/library"
)

// candidate is a title that may air on a channel: ready, with a rendition
// that matches the channel's profile.
type candidate struct {
	id, title, kind string
	source          string
	key             string // sort key: position in titles, then source path
	dir             string // the rendition's directory
	dur             time.Duration
}

// slot is an entry of a channel's timeline with what the schedule needs to
// go on from it: the rotation's state after it, the scheduled block still
// to play, and the last schedule time taken. Persisted (JSON) as the
// channel's state, so the timeline after a restart is the one before.
type slot struct {
	Entry
	Cut    bool     `json:"cut,omitempty"` // ended before its title did
	Cycle  int      `json:"cycle"`         // rotation cycle
	Played []string `json:"played,omitempty"`
	// Block holds the ids of a scheduled folder still to play.
	Block   []string  `json:"block,omitempty"`
	SchedAt time.Time `json:"sched_at,omitzero"`
}

// plan is what the timeline is computed from: the channel's config and
// its candidates now.
type plan struct {
	cfg       config.Channel
	epoch     time.Time
	slots     []config.SlotTime
	cands     []candidate           // the rotation, sorted by key
	byID      map[string]*candidate // every ready and playable title
	bySource  map[string]*candidate
	folderOf  func(folder string) []*candidate // ready titles of a folder, by key
	slateDur  time.Duration
	slateName string
}

// order is the rotation of a cycle: by key, or shuffled with a seed made
// of the channel, its epoch and the cycle (the same after a restart).
func (p *plan) order(cycle int) []*candidate {
	out := make([]*candidate, len(p.cands))
	for i := range p.cands {
		out[i] = &p.cands[i]
	}
	if p.cfg.Order == config.OrderShuffle {
		h := fnv.New64a()
		h.Write([]byte(p.cfg.Name))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(p.epoch.UnixNano())))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(cycle)))
		seed := h.Sum64()
		r := rand.New(rand.NewPCG(seed, seed>>1|1))
		r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// nextSched is the first schedule time at or after t and after the last
// one taken; zero when none.
func (p *plan) nextSched(t, taken time.Time) time.Time {
	from := t.Add(-time.Nanosecond)
	if taken.After(from) {
		from = taken
	}
	var best time.Time
	for _, s := range p.slots {
		if n := s.Next(from); !n.IsZero() && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	return best
}

// schedIndex is the schedule entry taking the air at t.
func (p *plan) schedIndex(t time.Time) int {
	for i, s := range p.slots {
		if s.Next(t.Add(-time.Nanosecond)).Equal(t) {
			return i
		}
	}
	return -1
}

func entryOf(c *candidate, start time.Time) Entry {
	return Entry{Title: c.title, TitleID: c.id, Kind: c.kind, Start: start, End: start.Add(c.dur)}
}

// advance is the entry that follows prev (which ends at prev.End).
func (p *plan) advance(prev slot) slot {
	t := prev.End
	next := slot{Cycle: prev.Cycle, Played: prev.Played, Block: prev.Block, SchedAt: prev.SchedAt}
	var c *candidate
	// a schedule entry taking the air now starts its block
	if s := p.nextSched(t, prev.SchedAt); !s.IsZero() && !s.After(t) {
		next.SchedAt = s
		next.Block = nil
		if i := p.schedIndex(s); i >= 0 {
			e := p.cfg.Schedule[i]
			if e.Title != "" {
				if x := p.lookup(e.Title); x != nil {
					next.Block = []string{x.id}
				}
			} else {
				for _, x := range p.folderOf(e.Folder) {
					next.Block = append(next.Block, x.id)
				}
			}
		}
	}
	for len(next.Block) > 0 && c == nil {
		c = p.byID[next.Block[0]]
		next.Block = next.Block[1:]
	}
	if len(next.Block) == 0 {
		next.Block = nil
	}
	if c == nil {
		c = p.rotation(&next)
	}
	if c == nil {
		next.Entry = Entry{Title: p.slateName, Kind: "slate", Start: t, End: t.Add(p.slateDur)}
	} else {
		next.Entry = entryOf(c, t)
	}
	// a schedule entry that comes before the end cuts it
	if s := p.nextSched(t.Add(time.Nanosecond), next.SchedAt); !s.IsZero() && s.Before(next.End) {
		next.End, next.Cut = s, true
	}
	return next
}

// rotation takes the next title of the rotation, nil when there is none
// (nothing ready, or the end of a channel that does not loop).
func (p *plan) rotation(s *slot) *candidate {
	if len(p.cands) == 0 {
		return nil
	}
	for range 2 {
		for _, c := range p.order(s.Cycle) {
			if !slices.Contains(s.Played, c.id) {
				s.Played = append(slices.Clip(s.Played), c.id)
				return c
			}
		}
		if !p.cfg.Loop {
			return nil
		}
		s.Cycle++
		s.Played = nil
	}
	return nil
}

func (p *plan) lookup(ref string) *candidate {
	if c := p.byID[ref]; c != nil {
		return c
	}
	return p.bySource[ref]
}

// first is the entry that starts a channel at t.
func (p *plan) first(t time.Time) slot {
	return p.advance(slot{Entry: Entry{End: t}})
}

// maxSteps bounds the entries computed in one go (a guide of 48 hours of
// very short titles, or a long time off air).
const maxSteps = 20000

// catchUp advances s until the entry on air at now; false when it gave up
// (maxSteps): the caller starts afresh.
func (p *plan) catchUp(s slot, now time.Time) (slot, bool) {
	for i := 0; !s.End.After(now); i++ {
		if i >= maxSteps || s.End.Sub(s.Start) <= 0 {
			return s, false
		}
		s = p.advance(s)
	}
	return s, true
}

// candidates makes the plan's titles from the catalogue: those of the
// channel's folder and titles that are ready; matching reports whether a
// title has a rendition for the channel (and where, and how long).
func candidates(cfg config.Channel, items []library.Item, playable func(library.Item) (string, time.Duration, bool)) (rot []candidate, all map[string]*candidate, bySource map[string]*candidate) {
	all, bySource = map[string]*candidate{}, map[string]*candidate{}
	var every []*candidate
	for _, it := range items {
		if it.State != library.StateReady {
			continue
		}
		dir, dur, ok := playable(it)
		if !ok {
			continue
		}
		c := &candidate{id: it.ID, title: guideTitle(it), kind: guideKind(it.Kind), source: it.Source, key: "1" + it.Source, dir: dir, dur: dur}
		all[it.ID] = c
		bySource[it.Source] = c
		every = append(every, c)
	}
	for _, c := range every {
		in := false
		if i := slices.IndexFunc(cfg.Titles, func(r string) bool { return r == c.id || bySource[r] == c }); i >= 0 {
			c.key = fmt.Sprintf("0%04d", i) + c.source // named titles first, in the given order
			in = true
		}
		if cfg.Folder != "" && inFolder(c.source, cfg.Folder) {
			in = true
		}
		if in {
			rot = append(rot, *c)
		}
	}
	slices.SortFunc(rot, func(a, b candidate) int { return cmp.Compare(a.key, b.key) })
	return rot, all, bySource
}

func inFolder(source, folder string) bool {
	return strings.HasPrefix(source, strings.TrimSuffix(folder, "/")+"/")
}

func guideKind(k string) string {
	switch k {
	case "movie":
		return "film"
	case "episode", "track":
		return k
	}
	return "film"
}

func guideTitle(it library.Item) string {
	if it.Kind == "episode" && it.Show != "" {
		t := it.Show
		if it.Season > 0 || it.Episode > 0 {
			t += " " + fmtEpisode(it.Season, it.Episode)
		}
		if it.Title != "" && it.Title != it.Show {
			t += " " + it.Title
		}
		return t
	}
	return it.Title
}

func fmtEpisode(s, e int) string { return fmt.Sprintf("S%02dE%02d", s, e) }
