package library

import "testing"

func TestParseName(t *testing.T) {
	cases := []struct {
		kind, rel string
		want      Meta
	}{
		{"movies", "Película del año (2024).mp4", Meta{Kind: KindMovie, Title: "Película del año", Year: 2024}},
		{"movies", "The.Matrix.1999.1080p.BluRay.x264.mkv", Meta{Kind: KindMovie, Title: "The Matrix", Year: 1999}},
		{"movies", "2001 A Space Odyssey (1968).mkv", Meta{Kind: KindMovie, Title: "2001 A Space Odyssey", Year: 1968}},
		{"movies", "Home Video.mov", Meta{Kind: KindMovie, Title: "Home Video"}},
		{"movies", "sub/Some_Film_720p.mp4", Meta{Kind: KindMovie, Title: "Some Film"}},
		{"series", "Show.S01E02.mkv", Meta{Kind: KindEpisode, Show: "Show", Season: 1, Episode: 2, Title: "Show S01E02"}},
		{"series", "The.Office.s03e12.Pilot.720p.mkv", Meta{Kind: KindEpisode, Show: "The Office", Season: 3, Episode: 12, Title: "Pilot"}},
		{"series", "Show - 1x02.mp4", Meta{Kind: KindEpisode, Show: "Show", Season: 1, Episode: 2, Title: "Show S01E02"}},
		{"series", "Mi Serie - 2x10 - El final.mp4", Meta{Kind: KindEpisode, Show: "Mi Serie", Season: 2, Episode: 10, Title: "El final"}},
		{"series", "Show/Season 1/Episode 2.mkv", Meta{Kind: KindEpisode, Show: "Show", Season: 1, Episode: 2, Title: "Show S01E02"}},
		{"series", "La Casa/Temporada 3/05 - El robo.mp4", Meta{Kind: KindEpisode, Show: "La Casa", Season: 3, Episode: 5, Title: "El robo"}},
		{"series", "Show/Season 2/Show.S02E07.mkv", Meta{Kind: KindEpisode, Show: "Show", Season: 2, Episode: 7, Title: "Show S02E07"}},
		{"music", "Artista - Canción.mp3", Meta{Kind: KindTrack, Artist: "Artista", Title: "Canción"}},
		{"music", "Band/Album/03 - Song.mp3", Meta{Kind: KindTrack, Artist: "Band", Album: "Album", Title: "Song"}},
		{"music", "track.flac", Meta{Kind: KindTrack, Title: "track"}},
	}
	for _, c := range cases {
		if got := ParseName(c.kind, c.rel); got != c.want {
			t.Errorf("ParseName(%s, %q)\n got %+v\nwant %+v", c.kind, c.rel, got, c.want)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"Show.S01E02.mkv", "a/Season 1/x.mp4", "Film (2020).mp4", "1x2", "(1999)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		for _, k := range []string{"movies", "series", "music"} {
			m := ParseName(k, rel)
			if m.Kind == "" {
				t.Fatal("no kind")
			}
		}
	})
}
