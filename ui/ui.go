package ui

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// static holds the console's files; a test serves every one of them.
//
//go:embed static
var static embed.FS

// staticDir is the directory of static the files are served from.
const staticDir = "static"

// indexFile answers a request for the mount point itself.
const indexFile = "index.html"

// contentSecurityPolicy allows the page only its own script, style and API:
// no inline script or style (so data can never run as code), no framing
// (clickjacking), no <base> or form posts that could send the key elsewhere.
// data: images cover the empty favicon index.html declares.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// contentTypes are the types of the file extensions the console uses. A file
// of any other extension is not served, so nothing is ever sniffed.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// file is one servable file.
type file struct {
	body        []byte
	contentType string
}

// handler serves the files by name, from a table built once.
type handler struct {
	files map[string]file
}

// Handler serves the console's files relative to where it is mounted: the
// path "/" or "" is index.html, "/app.js" or "app.js" is app.js. Strip the
// mount prefix first (http.StripPrefix). Only GET and HEAD are answered, and
// every response, a 404 included, carries the security headers.
func Handler() http.Handler {
	h := handler{files: map[string]file{}}
	entries, err := fs.ReadDir(static, staticDir)
	// The files are compiled in: only a change to the embed pattern above
	// can make them unreadable, and that is a bug, not a condition to serve.
	assert(err == nil, "read embedded %s: %v", staticDir, err)
	for _, e := range entries {
		// A file of an unknown type is left out rather than served as a
		// guess; a test fails on any embedded file that is not served.
		ctype, ok := contentTypes[path.Ext(e.Name())]
		if e.IsDir() || !ok {
			continue
		}
		body, err := fs.ReadFile(static, staticDir+"/"+e.Name())
		assert(err == nil, "read embedded %s: %v", e.Name(), err)
		h.files[e.Name()] = file{body: body, contentType: ctype}
	}
	assert(len(h.files[indexFile].body) > 0, "no embedded %s", indexFile)
	return h
}

// assert panics when a condition the package relies on does not hold.
func assert(cond bool, format string, args ...any) {
	if !cond {
		panic(fmt.Sprintf("ui: assertion failed: "+format, args...))
	}
}

// setSecurityHeaders is applied before anything else is written.
func setSecurityHeaders(hdr http.Header) {
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	// The files change only with the binary; no-store keeps a browser from
	// running an old script against a newer API after an upgrade.
	hdr.Set("Cache-Control", "no-store")
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = indexFile
	}
	// An exact lookup: no directory listing, no path to walk out of.
	f, ok := h.files[name]
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(f.body)
}
