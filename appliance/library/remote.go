package library

import "strings"

// SetRemote tells the catalogue where viewers find a title's files in a copy
// elsewhere (object storage behind a CDN): remote(id, file) is the URL of
// file (relative to the title's HLS folder), or "" while the copy does not
// hold that title. Call it before serving.
func (c *Catalogue) SetRemote(remote func(id, file string) string) { c.remote = remote }

// ForViewers points a title's playlist and poster at the remote copy when
// it holds the title; otherwise they stay on this box.
func (c *Catalogue) ForViewers(it *Item) {
	if c.remote == nil || it.State != StateReady {
		return
	}
	local := "/vod/" + it.ID + "/"
	for _, u := range []*string{&it.HLS, &it.Poster} {
		if file, ok := strings.CutPrefix(*u, local); ok {
			if r := c.remote(it.ID, file); r != "" {
				*u = r
			}
		}
	}
}
