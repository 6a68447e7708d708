package library

import "testing"

// TestParseName reads real-world file names: films (plain, parenthesised
// year, scene style), episodes in every naming form, and music.
func TestParseName(t *testing.T) {
	type M = Meta
	film := func(title string, year int) M { return M{Kind: KindMovie, Title: title, Year: year} }
	ep := func(show string, s, e int, title string) M {
		return M{Kind: KindEpisode, Show: show, Season: s, Episode: e, Title: title}
	}
	cases := []struct {
		kind, rel string
		want      Meta
	}{
		// films
		{"movies", "Película del año (2024).mp4", film("Película del año", 2024)},
		{"movies", "Ventana Web (2023).mp4", film("Ventana Web", 2023)},
		{"movies", "Huge Res H264 (2006).mp4", film("Huge Res H264", 2006)},
		{"movies", "The.Matrix.1999.1080p.BluRay.x264.mkv", film("The Matrix", 1999)},
		{"movies", "2001 A Space Odyssey (1968).mkv", film("2001 A Space Odyssey", 1968)},
		{"movies", "Blade Runner 2049 (2017).mkv", film("Blade Runner 2049", 2017)},
		{"movies", "Blade.Runner.2049.2017.2160p.UHD.BluRay.x265-TERMiNAL.mkv", film("Blade Runner 2049", 2017)},
		{"movies", "1917.2019.1080p.WEB-DL.DD5.1.H264-FGT.mkv", film("1917", 2019)},
		{"movies", "Home Video.mov", film("Home Video", 0)},
		{"movies", "sub/Some_Film_720p.mp4", film("Some Film", 0)},
		{"movies", "Amélie [2001].avi", film("Amélie", 2001)},
		{"movies", "El laberinto del fauno (2006) [1080p].mkv", film("El laberinto del fauno", 2006)},
		{"movies", "Mad.Max.Fury.Road.2015.720p.BrRip.x264.YIFY.mp4", film("Mad Max Fury Road", 2015)},
		{"movies", "Parasite (2019) 1080p BluRay x264.mkv", film("Parasite", 2019)},
		{"movies", "Web Cam Live (2020).mp4", film("Web Cam Live", 2020)},
		{"movies", "Cortometraje final.mp4", film("Cortometraje final", 0)},
		{"movies", "Los.Otros.2001.DVDRip.XviD.avi", film("Los Otros", 2001)},
		{"movies", "Inception 2010.mkv", film("Inception", 2010)},
		// episodes
		{"series", "Show.S01E02.mkv", ep("Show", 1, 2, "")},
		{"series", "Los Simpson S02E05.mkv", ep("Los Simpson", 2, 5, "")},
		{"series", "The.Office.s03e12.Pilot.720p.mkv", ep("The Office", 3, 12, "Pilot")},
		{"series", "Breaking.Bad.S05E14.Ozymandias.1080p.WEB-DL.DD5.1.H.264.mkv", ep("Breaking Bad", 5, 14, "Ozymandias")},
		{"series", "Dark.S01E01.Secrets.720p.NF.WEBRip.x264.mkv", ep("Dark", 1, 1, "Secrets")},
		{"series", "Game of Thrones - S08E03 - The Long Night.mkv", ep("Game of Thrones", 8, 3, "The Long Night")},
		{"series", "Doctor.Who.2005.S01E01.Rose.mkv", ep("Doctor Who", 1, 1, "Rose")},
		{"series", "Doctor Who (2005) - S02E04 - The Girl in the Fireplace.mkv", ep("Doctor Who", 2, 4, "The Girl in the Fireplace")},
		{"series", "Friends.S01E01E02.The.Pilot.mkv", ep("Friends", 1, 1, "The Pilot")},
		{"series", "show_s1e9_1080p.mp4", ep("show", 1, 9, "")},
		{"series", "Show - 1x02.mp4", ep("Show", 1, 2, "")},
		{"series", "Mi Serie - 2x10 - El final.mp4", ep("Mi Serie", 2, 10, "El final")},
		{"series", "Cuéntame cómo pasó 1x07 Cuéntame.mp4", ep("Cuéntame cómo pasó", 1, 7, "Cuéntame")},
		{"series", "Show/Season 1/Episode 2.mkv", ep("Show", 1, 2, "")},
		{"series", "La Casa/Temporada 3/05 - El robo.mp4", ep("La Casa", 3, 5, "El robo")},
		{"series", "Show/Season 2/Show.S02E07.mkv", ep("Show", 2, 7, "")},
		{"series", "Fargo/Season 01/S01E03.mkv", ep("Fargo", 1, 3, "")},
		{"series", "Fargo (2014)/Season 2/02.mkv", ep("Fargo", 2, 2, "")},
		{"series", "Aquí no hay quien viva/Temporada 1/Capítulo 4 - Érase una mudanza.avi", ep("Aquí no hay quien viva", 1, 4, "Érase una mudanza")},
		{"series", "El Ministerio del Tiempo - Capítulo 12.mp4", ep("El Ministerio del Tiempo", 1, 12, "")},
		{"series", "Naruto/Naruto Episode 23.mkv", ep("Naruto", 1, 23, "")},
		{"series", "Sherlock/S03/E02 - The Sign of Three.mkv", ep("Sherlock", 3, 2, "The Sign of Three")},
		// music
		{"music", "Artista - Canción.mp3", M{Kind: KindTrack, Artist: "Artista", Title: "Canción"}},
		{"music", "Band/Album/03 - Song.mp3", M{Kind: KindTrack, Artist: "Band", Album: "Album", Title: "Song", Track: 3}},
		{"music", "track.flac", M{Kind: KindTrack, Title: "track"}},
		{"music", "Radiohead/OK Computer (1997)/02 Paranoid Android.flac", M{Kind: KindTrack, Artist: "Radiohead", Album: "OK Computer", Year: 1997, Title: "Paranoid Android", Track: 2}},
		{"music", "Queen/A Night at the Opera/11. Bohemian Rhapsody.mp3", M{Kind: KindTrack, Artist: "Queen", Album: "A Night at the Opera", Title: "Bohemian Rhapsody", Track: 11}},
		{"music", "Rosalía - 04 - Malamente.m4a", M{Kind: KindTrack, Artist: "Rosalía", Title: "Malamente", Track: 4}},
		{"music", "Pink Floyd/The Wall/1-06 Another Brick in the Wall.flac", M{Kind: KindTrack, Artist: "Pink Floyd", Album: "The Wall", Title: "Another Brick in the Wall", Track: 6}},
		{"music", "Mecano/Descanso dominical/07-Mujer contra mujer.mp3", M{Kind: KindTrack, Artist: "Mecano", Album: "Descanso dominical", Title: "Mujer contra mujer", Track: 7}},
		{"music", "Varios/1999.mp3", M{Kind: KindTrack, Artist: "Varios", Title: "1999"}},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d names", len(cases))
	}
	for _, c := range cases {
		if got := ParseName(c.kind, c.rel); got != c.want {
			t.Errorf("ParseName(%s, %q)\n got %+v\nwant %+v", c.kind, c.rel, got, c.want)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"Show.S01E02.mkv", "a/Season 1/x.mp4", "Film (2020).mp4", "1x2", "(1999)", "01 - x.mp3"} {
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
