package ftps

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errBadName is a path no user may name: not UTF-8, control characters,
// backslashes or a hidden (dot) component.
var errBadName = errors.New("file name not allowed")

// vpath is a sanitised virtual path: "/" or "/folder[/rest...]".
type vpath struct {
	folder string // "" for the root
	rest   string // slash-separated, relative to the folder; "" for the folder itself
}

// rel is the path relative to the media root, as os.Root and Ingest take it.
func (p vpath) rel() string {
	if p.rest == "" {
		return p.folder
	}
	return p.folder + "/" + p.rest
}

func (p vpath) String() string {
	if p.folder == "" {
		return "/"
	}
	return "/" + p.rel()
}

// sanitize turns a client path (already joined with the working directory by
// the FTP library, but not trusted) into a vpath. Every ".." is resolved
// against the virtual root, so nothing can climb above it; names that are
// hidden (start with a dot: our temporary uploads), hold control characters
// or backslashes, or are not valid UTF-8 are refused.
func sanitize(p string) (vpath, error) {
	if !utf8.ValidString(p) || len(p) > 4096 {
		return vpath{}, errBadName
	}
	for _, r := range p {
		if unicode.IsControl(r) || r == '\\' || r == utf8.RuneError {
			return vpath{}, errBadName
		}
	}
	c := path.Clean("/" + p)
	if c == "/" {
		return vpath{}, nil
	}
	parts := strings.Split(c[1:], "/")
	for _, part := range parts {
		if part == "" || part[0] == '.' || len(part) > 255 {
			return vpath{}, errBadName
		}
	}
	return vpath{folder: parts[0], rest: strings.Join(parts[1:], "/")}, nil
}

// partPrefix starts the hidden name an upload is written to.
const partPrefix = ".thecure-part-"

// partName is the hidden temporary name, in the same directory, that an
// upload to rel is written to until it completes. It is the same for every
// attempt, so that REST/APPE can resume an interrupted upload.
func partName(rel string) string {
	sum := sha256.Sum256([]byte(path.Base(rel)))
	return path.Join(path.Dir(rel), partPrefix+hex.EncodeToString(sum[:16]))
}
