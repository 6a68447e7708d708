package publish

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Cache-Control of what is uploaded. Segments, init files and everything
// of a VOD title's version never change under their key; playlists of a
// title's version never change either but are what a re-packaged title
// replaces first, so they are cached moderately; live playlists change at
// every segment.
const (
	cacheImmutable    = "public, max-age=31536000, immutable"
	cacheVODPlaylist  = "public, max-age=300"
	cachePoster       = "public, max-age=86400"
	cacheLivePlaylist = "public, max-age=1"
)

// contentTypes are the files published, by extension; audio-only media
// (music titles, audio renditions) is audio/mp4.
var contentTypes = map[string]string{
	".m3u8": "application/vnd.apple.mpegurl",
	".m4s":  "video/mp4",
	".mp4":  "video/mp4",
	".ts":   "video/mp2t",
	".jpg":  "image/jpeg",
}

// vodHeaders are the Content-Type and Cache-Control of a title's file
// (name relative to its HLS folder).
func vodHeaders(name string, audioOnly bool) (ctype, cache string, ok bool) {
	ext := path.Ext(name)
	ctype, ok = contentTypes[ext]
	if !ok {
		return "", "", false
	}
	switch ext {
	case ".m3u8":
		return ctype, cacheVODPlaylist, true
	case ".jpg":
		return ctype, cachePoster, true
	case ".m4s", ".mp4":
		if audioOnly {
			ctype = "audio/mp4"
		}
	}
	return ctype, cacheImmutable, true
}

// put uploads one object (size bytes from r) with its headers.
func (s *Service) put(ctx context.Context, key string, r io.Reader, size int64, ctype, cache string) error {
	// No aws-chunked streaming signature (as backups): some S3-compatible
	// servers store its framing as data; Content-MD5 still lets the server
	// check what arrived.
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		ContentType: ctype, CacheControl: cache, DisableContentSha256: true, SendContentMd5: true,
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// putBytes uploads chunks of memory as one object.
func (s *Service) putBytes(ctx context.Context, key string, data [][]byte, ctype, cache string) (int64, error) {
	var n int64
	readers := make([]io.Reader, len(data))
	for i, d := range data {
		n += int64(len(d))
		readers[i] = bytes.NewReader(d)
	}
	return n, s.put(ctx, key, io.MultiReader(readers...), n, ctype, cache)
}

// list returns every key under prefix (relative to the service's prefix)
// with its size.
func (s *Service) list(ctx context.Context, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, o.Err)
		}
		out[strings.TrimPrefix(o.Key, s.prefix)] = o.Size
	}
	return out, nil
}

// remove deletes one object; a missing one is no error.
func (s *Service) remove(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	s.m.deletes.Inc()
	return nil
}
