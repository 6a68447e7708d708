package library

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Item kinds.
const (
	KindMovie   = "movie"
	KindEpisode = "episode"
	KindTrack   = "track"
)

// Meta is what a source's path says about it.
type Meta struct {
	Kind    string
	Title   string
	Year    int
	Show    string
	Season  int
	Episode int
	Artist  string
	Album   string
	Track   int
}

// nameRegexps are the patterns that read titles, years, seasons, episodes
// and track numbers out of file names. They are compiled at the first name
// parsed, not at every start: together about 170 KB and a millisecond, for
// something a box that only streams live never does.
type nameRegexps struct {
	reParenYear *regexp.Regexp
	reYearTok   *regexp.Regexp
	reResTok    *regexp.Regexp
	reJunkTok   *regexp.Regexp
	reSxxExx    *regexp.Regexp
	reNxNN      *regexp.Regexp
	reSeason    *regexp.Regexp
	reEpisode   *regexp.Regexp
	reNamedEp   *regexp.Regexp
	reTrackNo   *regexp.Regexp
}

var res = sync.OnceValue(func() *nameRegexps {
	return &nameRegexps{
		reParenYear: regexp.MustCompile(`[(\[]((?:19|20)\d{2})[)\]]`),
		reYearTok:   regexp.MustCompile(`^(?:19|20)\d{2}$`),
		reResTok:    regexp.MustCompile(`(?i)^(?:\d{3,4}[pi]|4k|8k|uhd)$`),
		reJunkTok:   regexp.MustCompile(`(?i)^(?:\d{3,4}[pi]|4k|8k|uhd|hdr|hdr10|dv|bluray|blu-ray|brrip|bdrip|bdremux|webrip|web-dl|webdl|web|hdtv|hdrip|dvdrip|dvd|x264|x265|h264|h265|h\.264|h\.265|hevc|avc|xvid|divx|aac|aac2\.0|ac3|dts|ddp5\.1|dd5\.1|remux|proper|repack|internal|multi|dual|subs?|vose|castellano|spanish|esp|nf|amzn|dsnp|hmax|atvp|10bit)$`),
		reSxxExx:    regexp.MustCompile(`(?i)^(.*?)[\s._-]*\bs(\d{1,2})[\s._-]*e(\d{1,3})(?:[\s._-]*e?\d{1,3}\b)?(.*)$`),
		reNxNN:      regexp.MustCompile(`(?i)^(.*?)[\s._-]*\b(\d{1,2})x(\d{1,3})\b(.*)$`),
		reSeason:    regexp.MustCompile(`(?i)^(?:season|temporada|staffel|saison|series|s)[\s._-]*(\d{1,2})$`),
		reEpisode:   regexp.MustCompile(`(?i)^(?:e|ep|episode|episodio|cap[ií]tulo|cap)?[\s._-]*(\d{1,3})\b[\s._-]*(.*)$`),
		reNamedEp:   regexp.MustCompile(`(?i)^(.*?)[\s._-]+(?:episode|episodio|cap[ií]tulo|cap|ep)[\s._-]*(\d{1,3})\b[\s._-]*(.*)$`),
		reTrackNo:   regexp.MustCompile(`^(?:\d{1,2}-)?(\d{1,3})(?:\s*[-.]\s*|\s+)`),
	}
})

// clean turns a file name stem into words: dots and underscores become
// spaces when the name has no spaces, and separators are trimmed.
func clean(s string) string {
	if !strings.Contains(s, " ") {
		s = strings.NewReplacer(".", " ", "_", " ").Replace(s)
	}
	s = strings.Join(strings.Fields(s), " ")
	return strings.Trim(s, " -._([")
}

func stem(name string) string {
	return strings.TrimSuffix(name, path.Ext(name))
}

// ParseName reads a source's path relative to its library folder (for
// example "Show/Season 1/Show.S01E02.mkv") as a folder of the given kind
// (movies, series or music) says to.
func ParseName(folderKind, rel string) Meta {
	dirs := strings.Split(path.Dir(rel), "/")
	if dirs[0] == "." {
		dirs = nil
	}
	base := stem(path.Base(rel))
	switch folderKind {
	case "series":
		return parseEpisode(dirs, base)
	case "music":
		return parseTrack(dirs, base)
	default:
		return parseMovie(base)
	}
}

// splitYear takes a parenthesised year off a name: the name is everything
// before it, every word kept ("Ventana Web (2023)").
func splitYear(s string) (string, int, bool) {
	loc := res().reParenYear.FindStringSubmatchIndex(s)
	if loc == nil || loc[0] == 0 {
		return s, 0, false
	}
	y, _ := strconv.Atoi(s[loc[2]:loc[3]])
	return clean(s[:loc[0]]), y, true
}

// sceneTitle reads "Title.Words.2019.1080p.Tags" (or the same with spaces):
// the title is what comes before the year (the last one before the
// resolution, so "Blade.Runner.2049.2017" keeps its 2049) or the
// resolution; release tags are dropped only there, after it.
func sceneTitle(s string) (string, int) {
	words := strings.Fields(strings.NewReplacer(".", " ", "_", " ").Replace(s))
	if strings.Contains(s, " ") {
		words = strings.Fields(s)
	}
	cut, year := len(words), 0
	for i, w := range words {
		if i > 0 && res().reResTok.MatchString(w) {
			cut = i
			break
		}
	}
	for i := cut - 1; i > 0; i-- {
		if w := strings.Trim(words[i], "()[]"); res().reYearTok.MatchString(w) {
			year, _ = strconv.Atoi(w)
			cut = i
			break
		}
	}
	return clean(strings.Join(words[:cut], " ")), year
}

func parseMovie(base string) Meta {
	m := Meta{Kind: KindMovie}
	if t, y, ok := splitYear(base); ok {
		m.Title, m.Year = t, y
	} else {
		m.Title, m.Year = sceneTitle(base)
	}
	if m.Title == "" {
		m.Title = clean(base)
	}
	return m
}

// showName is a show's name from a file name's start or a folder: without
// a year after it.
func showName(s string) string {
	if t, _, ok := splitYear(s); ok {
		return t
	}
	t, _ := sceneTitle(s)
	if t == "" {
		return clean(s)
	}
	return t
}

// episodeTitle is what follows an episode's code: release tags and what
// comes after them are dropped.
func episodeTitle(rest string) string {
	words := strings.Fields(strings.NewReplacer(".", " ", "_", " ").Replace(rest))
	if strings.Contains(strings.TrimSpace(rest), " ") {
		words = strings.Fields(rest)
	}
	for i, w := range words {
		if res().reJunkTok.MatchString(strings.Trim(w, "()[]")) {
			words = words[:i]
			break
		}
	}
	return clean(strings.Join(words, " "))
}

func parseEpisode(dirs []string, base string) Meta {
	m := Meta{Kind: KindEpisode}
	if !strings.Contains(base, " ") { // "show_s1e9": \b does not cut at "_"
		base = strings.ReplaceAll(base, "_", ".")
	}
	var rest string
	coded := false
	if g := res().reSxxExx.FindStringSubmatch(base); g != nil {
		m.Show, rest, coded = showName(g[1]), g[4], true
		m.Season, _ = strconv.Atoi(g[2])
		m.Episode, _ = strconv.Atoi(g[3])
	} else if g := res().reNxNN.FindStringSubmatch(base); g != nil {
		m.Show, rest, coded = showName(g[1]), g[4], true
		m.Season, _ = strconv.Atoi(g[2])
		m.Episode, _ = strconv.Atoi(g[3])
	}
	// folders: Show/Season 1/...
	for i, d := range dirs {
		if g := res().reSeason.FindStringSubmatch(strings.TrimSpace(d)); g != nil {
			if m.Season == 0 {
				m.Season, _ = strconv.Atoi(g[1])
			}
			if m.Show == "" && i > 0 {
				m.Show = showName(dirs[i-1])
			}
		}
	}
	if m.Show == "" && len(dirs) > 0 {
		m.Show = showName(dirs[0])
	}
	if !coded {
		if g := res().reEpisode.FindStringSubmatch(clean(base)); g != nil {
			m.Episode, _ = strconv.Atoi(g[1])
			rest = g[2]
		} else if g := res().reNamedEp.FindStringSubmatch(base); g != nil {
			if m.Show == "" {
				m.Show = showName(g[1])
			}
			m.Episode, _ = strconv.Atoi(g[2])
			rest = g[3]
		} else {
			rest = base
		}
	}
	if m.Season == 0 && m.Episode > 0 {
		m.Season = 1
	}
	if m.Show == "" {
		m.Show = clean(base)
	}
	m.Title = episodeTitle(rest)
	// a title that only repeats the show (or is empty) is no title: the
	// pages say "Episode N"
	if strings.EqualFold(m.Title, m.Show) {
		m.Title = ""
	}
	return m
}

func parseTrack(dirs []string, base string) Meta {
	m := Meta{Kind: KindTrack}
	switch len(dirs) {
	case 0:
	case 1:
		m.Artist = clean(dirs[0])
	default:
		m.Artist, m.Album = clean(dirs[len(dirs)-2]), clean(dirs[len(dirs)-1])
	}
	if a, y, ok := splitYear(m.Album); ok {
		m.Album, m.Year = a, y
	}
	s := strings.TrimSpace(base)
	if g := res().reTrackNo.FindStringSubmatch(s); g != nil {
		m.Track, _ = strconv.Atoi(g[1])
		s = s[len(g[0]):]
	}
	if a, t, ok := strings.Cut(s, " - "); ok {
		if m.Artist == "" {
			m.Artist = clean(a)
		}
		s = t
		if g := res().reTrackNo.FindStringSubmatch(s); g != nil && m.Track == 0 {
			m.Track, _ = strconv.Atoi(g[1])
			s = s[len(g[0]):]
		}
	}
	m.Title = clean(s)
	if m.Title == "" {
		m.Title = clean(base)
	}
	return m
}
