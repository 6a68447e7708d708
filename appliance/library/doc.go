// Package library is the catalogue of video and audio on demand: one record
// per source file in the store (movies, series episodes, music tracks, with
// what their names and tags say), the VOD HLS tree on disk that Package
// writes from ffmpeg's MPEG-TS output (our own segments and playlists), and
// the HTTP handlers for /vod/ID/... and /api/library.
package library
