package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc describes every route of routes(); a test checks the two match.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the served OpenAPI 3 document.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// openAPI is GET /v1/openapi.yaml, served without a key.
func (s *Server) openAPI(c echo.Context) error {
	if _, err := query(c); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/yaml", openAPIDoc)
}
