package api

import "github.com/labstack/echo/v4"

// Routes exposes the registered routes to the external tests.
func Routes(s *Server) []*echo.Route { return s.echo.Routes() }

// ErrorResponse exposes the error mapping to the external tests.
var ErrorResponse = errorResponse

// ParseKeyRequest and ParseLintRequest expose the body parsers to the fuzz
// tests.
var (
	ParseKeyRequest  = parseKeyRequest
	ParseLintRequest = parseLintRequest
)
