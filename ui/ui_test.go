package ui

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// wantHeaders are the security headers of every response, 404s included.
// They are written out here rather than read from ui.go, so a change to the
// policy is a change to this test too.
var wantHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
		"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
}

// get serves one request through Handler.
func get(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/", nil)
	// Set the path directly: the handler sees what http.StripPrefix leaves,
	// which may be "" or hold "..", neither of which NewRequest's URL parsing
	// would keep.
	req.URL.Path = target
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for name, want := range wantHeaders {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
}

// embedded lists every file under static/, as names relative to it.
func embedded(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(static, staticDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(static, p)
		files[strings.TrimPrefix(p, staticDir+"/")] = body
		return err
	})
	if err != nil {
		t.Fatalf("walk embedded files: %v", err)
	}
	return files
}

// TestServesEveryFile: each embedded file is served whole, with the type its
// extension calls for and the security headers, and no embedded file is left
// unserved (a file of a new type needs its type here and in ui.go).
func TestServesEveryFile(t *testing.T) {
	wantType := map[string]string{
		"index.html": "text/html; charset=utf-8",
		"app.js":     "text/javascript; charset=utf-8",
		"app.css":    "text/css; charset=utf-8",
		// The vendored charting library (third_party/uplot).
		"uPlot.iife.min.js": "text/javascript; charset=utf-8",
		"uPlot.min.css":     "text/css; charset=utf-8",
	}
	files := embedded(t)
	if len(files) != len(wantType) {
		t.Errorf("%d embedded files, want %d: %v", len(files), len(wantType), keys(files))
	}
	for name, body := range files {
		t.Run(name, func(t *testing.T) {
			want, ok := wantType[name]
			if !ok {
				t.Fatalf("embedded file %s has no expected Content-Type in this test", name)
			}
			rec := get(t, http.MethodGet, "/"+name)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /%s: %d, want 200", name, rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != want {
				t.Errorf("GET /%s: Content-Type %q, want %q", name, got, want)
			}
			if !bytes.Equal(rec.Body.Bytes(), body) {
				t.Errorf("GET /%s: body differs from the embedded file", name)
			}
			checkSecurityHeaders(t, "GET /"+name, rec.Header())
		})
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPaths: the mount point is index.html, with or without its slash (as
// http.StripPrefix leaves it); anything that is not exactly a file's name is
// 404, with the security headers still on.
func TestPaths(t *testing.T) {
	index := embedded(t)[indexFile]
	tests := []struct {
		name   string
		method string
		path   string
		status int
		index  bool // body is index.html
	}{
		{"root slash", http.MethodGet, "/", http.StatusOK, true},
		{"root empty", http.MethodGet, "", http.StatusOK, true},
		{"index by name", http.MethodGet, "/index.html", http.StatusOK, true},
		{"name without slash", http.MethodGet, "app.css", http.StatusOK, false},
		{"head", http.MethodHead, "/", http.StatusOK, false},
		{"unknown file", http.MethodGet, "/nope.js", http.StatusNotFound, false},
		{"embed directory prefix", http.MethodGet, "/static/app.js", http.StatusNotFound, false},
		{"directory", http.MethodGet, "/static", http.StatusNotFound, false},
		{"parent", http.MethodGet, "/../ui.go", http.StatusNotFound, false},
		{"trailing slash", http.MethodGet, "/app.js/", http.StatusNotFound, false},
		{"case differs", http.MethodGet, "/APP.JS", http.StatusNotFound, false},
		{"post", http.MethodPost, "/", http.StatusMethodNotAllowed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(t, tc.method, tc.path)
			if rec.Code != tc.status {
				t.Fatalf("%s %q: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
			checkSecurityHeaders(t, tc.method+" "+tc.path, rec.Header())
			if tc.index && !bytes.Equal(rec.Body.Bytes(), index) {
				t.Errorf("%s %q: body is not index.html", tc.method, tc.path)
			}
			if tc.method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD %q: %d bytes of body, want none", tc.path, rec.Body.Len())
			}
			if tc.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %q: Allow %q, want GET, HEAD", tc.method, tc.path, rec.Header().Get("Allow"))
			}
		})
	}
}

// TestIndexReferences: every src and href of index.html is an embedded file
// (relative, so it resolves under /ui/) or an inline data: URL the policy
// allows for images; nothing is fetched from another origin.
func TestIndexReferences(t *testing.T) {
	files := embedded(t)
	ref := regexp.MustCompile(`\s(?:src|href)\s*=\s*"([^"]*)"`)
	matches := ref.FindAllStringSubmatch(string(files[indexFile]), -1)
	if len(matches) < 2 {
		t.Fatalf("index.html references %d files, want the script and the stylesheet at least", len(matches))
	}
	seen := map[string]bool{}
	for _, m := range matches {
		target := m[1]
		if target == "data:," {
			continue
		}
		if _, ok := files[target]; !ok || path.IsAbs(target) || strings.Contains(target, ":") {
			t.Errorf("index.html references %q, which is not an embedded file by a relative name", target)
		}
		seen[target] = true
	}
	for _, want := range []string{"app.js", "app.css"} {
		if !seen[want] {
			t.Errorf("index.html does not reference %s", want)
		}
	}
}

// TestNothingInline: the Content-Security-Policy would block inline script
// and style, so the files must not rely on them; and the script must never
// turn text into HTML, or a party name could run as code.
func TestNothingInline(t *testing.T) {
	files := embedded(t)
	index := string(files[indexFile])
	scripts := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(index, -1)
	if n := strings.Count(strings.ToLower(index), "<script"); n != len(scripts) || n == 0 {
		t.Errorf("index.html has %d script tags, %d of them closed", n, len(scripts))
	}
	src := regexp.MustCompile(`\ssrc\s*=\s*"[^"]+"`)
	for _, m := range scripts {
		if !src.MatchString(m[1]) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("index.html has an inline script: %q", m[0])
		}
	}
	htmlTests := []struct {
		name string
		bad  *regexp.Regexp
	}{
		{"a style element", regexp.MustCompile(`(?i)<style`)},
		{"a style attribute", regexp.MustCompile(`(?i)\sstyle\s*=`)},
		{"an event handler attribute", regexp.MustCompile(`(?i)\son[a-z]+\s*=`)},
		{"a javascript: URL", regexp.MustCompile(`(?i)javascript:`)},
	}
	for _, tc := range htmlTests {
		if loc := tc.bad.FindStringIndex(index); loc != nil {
			t.Errorf("index.html has %s: %q", tc.name, index[loc[0]:min(loc[1]+40, len(index))])
		}
	}
	script := string(files["app.js"])
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "javascript:", "setTimeout('", "localStorage"} {
		if strings.Contains(script, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	if !strings.Contains(script, "sessionStorage") {
		t.Errorf("app.js does not keep the key in sessionStorage")
	}
}

// TestScriptFindsItsElements: every element the script looks up by id is in
// index.html, and every tab button has its section, so a renamed id fails
// here rather than as a blank tab in a browser.
func TestScriptFindsItsElements(t *testing.T) {
	files := embedded(t)
	index, script := string(files[indexFile]), string(files["app.js"])
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(index, -1) {
		if ids[m[1]] {
			t.Errorf("index.html has id %q twice", m[1])
		}
		ids[m[1]] = true
	}
	lookups := regexp.MustCompile(`\$\('([^']+)'\)`).FindAllStringSubmatch(script, -1)
	if len(lookups) < 10 {
		t.Fatalf("found %d $('id') lookups in app.js; the pattern no longer matches the script", len(lookups))
	}
	for _, m := range lookups {
		if !ids[m[1]] {
			t.Errorf("app.js looks up #%s, which index.html does not have", m[1])
		}
	}
	tabs := regexp.MustCompile(`\sdata-tab="([^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(tabs) == 0 {
		t.Fatalf("index.html has no tabs")
	}
	for _, m := range tabs {
		if !ids["tab-"+m[1]] {
			t.Errorf("tab %s has no section #tab-%s", m[1], m[1])
		}
	}
}
