package api

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/calendar"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// pendingRoutes are documented routes whose handlers another change is
// adding. The test fails once one is registered, so the list only
// shrinks.
var pendingRoutes = []string{}

type openapiDocument struct {
	OpenAPI    string                    `yaml:"openapi"`
	Paths      map[string]map[string]any `yaml:"paths"`
	Components map[string]map[string]any `yaml:"components"`
}

func loadOpenAPI(t *testing.T) openapiDocument {
	t.Helper()
	var doc openapiDocument
	require.NoError(t, yaml.Unmarshal(openapiDoc, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "openapi %q", doc.OpenAPI)
	return doc
}

// documentedRoutes returns "METHOD /path" for every operation of doc.
func documentedRoutes(doc openapiDocument) []string {
	var out []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// registeredRoutes returns the pattern of every s.mux.Handle and
// s.mux.HandleFunc call in the package's non-test sources. Patterns must
// be string literals, so that this list is complete.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			if recv, ok := sel.X.(*ast.SelectorExpr); !ok || recv.Sel.Name != "mux" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !assert.True(t, ok && lit.Kind == token.STRING, "%s: register routes with a literal pattern", fset.Position(call.Pos())) {
				return true
			}
			pattern, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			out = append(out, pattern)
			return true
		})
	}
	slices.Sort(out)
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := documentedRoutes(doc)
	registered := registeredRoutes(t)
	require.NotEmpty(t, registered)

	// A server with every optional dependency, so every route registers.
	svc, err := directory.New(context.Background(), directory.NewMemStore(), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	srv := New(Deps{
		Presence: presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop()), Keys: accounts.NewKeys(accounts.NewMemKeyStore()),
		Directory: svc, Metrics: http.NotFoundHandler(), App: http.NotFoundHandler(),
		Calendar: calendar.New(calendar.Config{}, calendar.NewMemStore(), nil, zerolog.Nop()),
	}, zerolog.Nop())

	for _, route := range registered {
		t.Run("registered "+route, func(t *testing.T) {
			method, path, ok := strings.Cut(route, " ")
			require.True(t, ok, "pattern %q has no method", route)
			req := httptest.NewRequest(method, pathParam.ReplaceAllString(path, "x1"), nil)
			_, got := srv.mux.Handler(req)
			assert.Equal(t, route, got, "the server serves this pattern")
			assert.True(t, slices.Contains(documented, route), "%s is missing from openapi.yaml", route)
		})
	}
	for _, route := range documented {
		if slices.Contains(pendingRoutes, route) {
			assert.False(t, slices.Contains(registered, route), "%s is registered now: remove it from pendingRoutes", route)
			continue
		}
		assert.True(t, slices.Contains(registered, route), "openapi.yaml documents %s, which the server does not have", route)
	}
}

// TestOpenAPIRefs checks that every $ref points at a defined component and
// every operation has an operationId, a unique one.
func TestOpenAPIRefs(t *testing.T) {
	doc := loadOpenAPI(t)
	var tree any
	require.NoError(t, yaml.Unmarshal(openapiDoc, &tree))
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					ref, _ := x.(string)
					parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
					if assert.Len(t, parts, 2, "ref %q", ref) {
						_, ok := doc.Components[parts[0]][parts[1]]
						assert.True(t, ok, "ref %q points at no component", ref)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(tree)

	seen := map[string]string{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			fields, _ := op.(map[string]any)
			id, _ := fields["operationId"].(string)
			if assert.NotEmpty(t, id, "%s %s", method, path) {
				assert.NotContains(t, seen, id, "operationId %s of %s %s also used by %s", id, method, path, seen[id])
				seen[id] = method + " " + path
			}
		}
	}
}

func TestServeOpenAPI(t *testing.T) {
	srv := New(Deps{Keys: accounts.NewKeys(accounts.NewMemKeyStore())}, zerolog.Nop())
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.yaml", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "yaml")
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	assert.Equal(t, openapiDoc, body)
}
