package ftps

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// errBadName is a path no user may name: not UTF-8, control, bidi or line
// separator characters, backslashes or a hidden (dot) component.
var errBadName = fmt.Errorf("file name not allowed (control or bidi characters, backslash, or a leading dot): %w", ftpserver.ErrFileNameNotAllowed)

// Bounds on what FTP may create, so that every path stays far below
// PATH_MAX wherever the media dir is: at most maxDepth names from the media
// root (the folder included) and maxRelPath bytes.
const (
	maxDepth   = 16
	maxRelPath = 1024
)

// errTooDeep refuses to create a path beyond the bounds above.
var errTooDeep = fmt.Errorf("path too deep or too long (at most %d levels and %d bytes): %w", maxDepth, maxRelPath, ftpserver.ErrFileNameNotAllowed)

// forbidden reports the characters no name may hold: controls (C0, C1,
// DEL), the bidi controls that reorder a listing (U+202E and its kin), line
// and paragraph separators, the byte-order mark, backslashes.
func forbidden(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\\', r == utf8.RuneError, r == 0xFEFF:
		return true
	case r == 0x061C, r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return unicode.In(r, unicode.Zl, unicode.Zp)
}

// creatable checks the bounds on a path to create.
func (p vpath) creatable() error {
	if len(p.rel()) > maxRelPath || strings.Count(p.rel(), "/")+1 > maxDepth {
		return errTooDeep
	}
	return nil
}

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
		if forbidden(r) {
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
