package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func serve(t *testing.T, p string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
	return rec
}

func TestServesIndexForAppRoutes(t *testing.T) {
	for _, p := range []string{"/", "/board", "/contacts/abc"} {
		rec := serve(t, p)
		require.Equal(t, http.StatusOK, rec.Code, p)
		assert.Contains(t, rec.Body.String(), "<title>Switchboard</title>", p)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), p)
	}
}

func TestSendsCSPThatForbidsInlineCode(t *testing.T) {
	csp := serve(t, "/").Header().Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'self'")
	assert.Contains(t, csp, "style-src 'self'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.NotContains(t, csp, "unsafe-eval")
}

// With nosniff a browser runs a module only when its type is JavaScript,
// and applies a stylesheet only when it is CSS.
func TestServesModulesAndStylesWithTheirTypes(t *testing.T) {
	for p, want := range map[string]string{
		"/app.js":                "javascript",
		"/api.js":                "javascript",
		"/strings.js":            "javascript",
		"/vendor/preact.mjs":     "javascript",
		"/vendor/hooks.mjs":      "javascript",
		"/vendor/htm.mjs":        "javascript",
		"/style.css":             "text/css",
		"/board.css":             "text/css",
		"/vendor/preact.LICENSE": "",
	} {
		rec := serve(t, p)
		require.Equal(t, http.StatusOK, rec.Code, p)
		assert.Contains(t, rec.Header().Get("Content-Type"), want, p)
		assert.NotContains(t, rec.Body.String(), "<title>Switchboard</title>", p)
	}
}

// The CSP forbids inline scripts and styles: index.html loads everything
// from files.
func TestIndexHasNoInlineScriptOrStyle(t *testing.T) {
	b, err := fs.ReadFile(static, "static/index.html")
	require.NoError(t, err)
	html := string(b)
	for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(html, -1) {
		assert.Contains(t, m[1], "src=", "inline script: %s", m[0])
		assert.Empty(t, strings.TrimSpace(m[2]), "inline script: %s", m[0])
	}
	assert.NotRegexp(t, `(?i)<style\b`, html)
	assert.NotRegexp(t, `(?i)\sstyle=`, html)
	assert.NotRegexp(t, `(?i)\son[a-z]+=`, html)
}

// Every module's relative imports name an embedded file, so the app needs
// no bundler and no import map; no module imports a bare package name or
// anything from another origin.
func TestModuleImportsResolve(t *testing.T) {
	imp := regexp.MustCompile(`(?m)(?:(?:^|[\s}*])from\s*|^\s*import\s*|\bimport\s*\(\s*)["']([^"']+)["']`)
	n := 0
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".mjs")) {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			spec := m[1]
			n++
			if !assert.True(t, strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../"), "%s imports %q", p, spec) {
				continue
			}
			_, err := fs.Stat(static, path.Join(path.Dir(p), spec))
			assert.NoError(t, err, "%s imports %q", p, spec)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, n, 10)
}

// The vendored libraries are the versions package.json pins, with their
// licences (check-vendor.sh compares the bytes against a clean install).
func TestVendoredLibrariesMatchPackageJSON(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile("package.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pkg))
	versions, err := fs.ReadFile(static, "static/vendor/VERSIONS")
	require.NoError(t, err)
	require.NotEmpty(t, pkg.Dependencies)
	for name, v := range pkg.Dependencies {
		assert.Regexp(t, `^\d+\.\d+\.\d+$`, v, "%s must be pinned to an exact version", name)
		assert.Contains(t, string(versions), name+" "+v+"\n")
		lic, err := fs.ReadFile(static, "static/vendor/"+name+".LICENSE")
		if assert.NoError(t, err, name) {
			assert.Contains(t, string(lic), "License", name)
		}
		_, err = fs.Stat(static, "static/vendor/"+name+".mjs")
		assert.NoError(t, err, name)
	}
	_, err = os.Stat("package-lock.json")
	assert.NoError(t, err)
}

// Every string key a module asks t() for is in strings.js, so no screen
// shows a bare key.
func TestEveryStringKeyExists(t *testing.T) {
	b, err := fs.ReadFile(static, "static/strings.js")
	require.NoError(t, err)
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*'([^']+)':`).FindAllStringSubmatch(string(b), -1) {
		assert.False(t, have[m[1]], "%s defined twice", m[1])
		have[m[1]] = true
	}
	require.Greater(t, len(have), 100)
	use := regexp.MustCompile(`\bt\(\s*'([^']+)'`)
	entries, err := fs.ReadDir(static, "static")
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".js") || e.Name() == "strings.js" {
			continue
		}
		src, err := fs.ReadFile(static, "static/"+e.Name())
		require.NoError(t, err)
		for _, m := range use.FindAllStringSubmatch(string(src), -1) {
			if strings.HasSuffix(m[1], ".") {
				continue // a prefix completed at run time, such as 'status.' + s
			}
			assert.True(t, have[m[1]], "%s uses string %q, which strings.js lacks", e.Name(), m[1])
		}
	}
}
