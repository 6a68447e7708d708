package library

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
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
}

var (
	reYear    = regexp.MustCompile(`[(\[]?\b((?:19|20)\d{2})\b[)\]]?`)
	reJunk    = regexp.MustCompile(`(?i)\b(2160p|1080p|720p|480p|4k|uhd|bluray|blu-ray|brrip|bdrip|webrip|web-dl|web|hdtv|x264|x265|h264|h265|hevc|dvdrip|xvid|aac|ac3|remux)\b`)
	reSxxExx  = regexp.MustCompile(`(?i)^(.*?)[\s._-]*\bs(\d{1,2})[\s._-]*e(\d{1,3})(?:[\s._-]*e?\d{1,3}\b)?(.*)$`)
	reNxNN    = regexp.MustCompile(`(?i)^(.*?)[\s._-]*\b(\d{1,2})x(\d{1,3})\b(.*)$`)
	reSeason  = regexp.MustCompile(`(?i)^(?:season|temporada|staffel|saison|series|s)[\s._-]*(\d{1,2})$`)
	reEpisode = regexp.MustCompile(`(?i)^(?:e|ep|episode|episodio|episodio|cap[ií]tulo|cap)?[\s._-]*(\d{1,3})\b[\s._-]*(.*)$`)
	reTrackNo = regexp.MustCompile(`^\d{1,3}(?:\s*[-.]\s*|\s+)`)
)

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

func parseMovie(base string) Meta {
	m := Meta{Kind: KindMovie}
	s := base
	if !strings.Contains(s, " ") {
		s = strings.NewReplacer(".", " ", "_", " ").Replace(s)
	}
	// the year is the last one that is not the start of the title ("2001 A Space Odyssey (1968)")
	locs := reYear.FindAllStringSubmatchIndex(s, -1)
	for i := len(locs) - 1; i >= 0; i-- {
		if locs[i][0] > 0 {
			m.Year, _ = strconv.Atoi(s[locs[i][2]:locs[i][3]])
			s = s[:locs[i][0]]
			break
		}
	}
	if loc := reJunk.FindStringIndex(s); loc != nil && loc[0] > 0 {
		s = s[:loc[0]]
	}
	m.Title = clean(s)
	if m.Title == "" {
		m.Title = clean(base)
	}
	return m
}

func parseEpisode(dirs []string, base string) Meta {
	m := Meta{Kind: KindEpisode}
	var rest string
	if g := reSxxExx.FindStringSubmatch(base); g != nil {
		m.Show, rest = clean(g[1]), g[4]
		m.Season, _ = strconv.Atoi(g[2])
		m.Episode, _ = strconv.Atoi(g[3])
	} else if g := reNxNN.FindStringSubmatch(base); g != nil {
		m.Show, rest = clean(g[1]), g[4]
		m.Season, _ = strconv.Atoi(g[2])
		m.Episode, _ = strconv.Atoi(g[3])
	}
	// folders: Show/Season 1/...
	for i, d := range dirs {
		if g := reSeason.FindStringSubmatch(strings.TrimSpace(d)); g != nil {
			if m.Season == 0 {
				m.Season, _ = strconv.Atoi(g[1])
			}
			if m.Show == "" && i > 0 {
				m.Show = clean(dirs[i-1])
			}
		}
	}
	if m.Show == "" && len(dirs) > 0 {
		m.Show = clean(dirs[0])
	}
	if m.Episode == 0 {
		if g := reEpisode.FindStringSubmatch(clean(base)); g != nil {
			m.Episode, _ = strconv.Atoi(g[1])
			rest = g[2]
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
	if loc := reJunk.FindStringIndex(rest); loc != nil {
		rest = rest[:loc[0]]
	}
	m.Title = clean(rest)
	if m.Title == "" || m.Title == m.Show {
		m.Title = fmt.Sprintf("%s S%02dE%02d", m.Show, m.Season, m.Episode)
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
	s := reTrackNo.ReplaceAllString(strings.TrimSpace(base), "")
	if a, t, ok := strings.Cut(s, " - "); ok {
		if m.Artist == "" {
			m.Artist = clean(a)
		}
		s = t
	}
	m.Title = clean(s)
	if m.Title == "" {
		m.Title = clean(base)
	}
	return m
}
