package api

import (
	_ "embed"
	"net/http"
)

// openapiDoc is the OpenAPI 3 description of every route of the Server.
// TestOpenAPICoversRoutes keeps the two in step.
//
//go:embed openapi.yaml
var openapiDoc []byte

// serveOpenAPI serves the OpenAPI document. It needs no API key.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openapiDoc)
}
