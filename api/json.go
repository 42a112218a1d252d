package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/transfer"
)

// readBody reads the whole request body, at most Config.MaxBodyBytes; a larger
// one is answered 413 TOO_LARGE through *http.MaxBytesError.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	return s.readBodyLimit(c, s.cfg.MaxBodyBytes)
}

// readBodyLimit is readBody with a bound of the route's own, at most
// Config.MaxBodyBytes.
func (s *Server) readBodyLimit(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	// Sized by Content-Length when given (already bounded above): a batch
	// body read into io.ReadAll's doubling buffer is copied a dozen times.
	buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+1))
	_, err := buf.ReadFrom(http.MaxBytesReader(c.Response().Writer, r.Body, limit))
	body := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, newError(http.StatusBadRequest, CodeMalformed, "the request body could not be read")
	}
	return body, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data. Errors are *Error with MALFORMED or UNKNOWN_FIELD, except an
// amount's grammar error, which keeps wrapping transfer.ErrBadAmount.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, CodeMalformed, "trailing data after the JSON value")
	}
	return nil
}

// jsonError describes an encoding/json error without Go type names.
func jsonError(err error) error {
	const unknownPrefix = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknownPrefix) {
		return newError(http.StatusBadRequest, CodeUnknownField, "unknown field "+strings.TrimPrefix(msg, unknownPrefix))
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return newError(http.StatusBadRequest, CodeMalformed, fmt.Sprintf("invalid JSON at byte %d", se.Offset))
	case errors.As(err, &te) && te.Field != "":
		return newError(http.StatusBadRequest, CodeMalformed, fmt.Sprintf("field %s has the wrong JSON type (%s)", te.Field, te.Value))
	case errors.As(err, &te):
		return newError(http.StatusBadRequest, CodeMalformed, fmt.Sprintf("wrong JSON type (%s)", te.Value))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, CodeMalformed, "unexpected end of JSON")
	}
	// An amount's UnmarshalJSON error carries its own sentinel and a message
	// written for clients; anything else is some other malformation.
	if errors.Is(err, transfer.ErrBadAmount) {
		return err
	}
	return newError(http.StatusBadRequest, CodeMalformed, "invalid JSON")
}

// writeJSON answers v as JSON. It encodes with encoding/json rather than
// echo's serializer so that no query parameter (echo's ?pretty) changes the
// bytes.
func writeJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}

// query checks the request's query parameters against the ones the route
// knows: an unknown or repeated parameter is an error, as an unknown field is.
// It always accepts consistency.
func query(c echo.Context, known ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, vs := range c.QueryParams() {
		if k != "consistency" && !slices.Contains(known, k) {
			return nil, invalid(fmt.Sprintf("unknown query parameter %.40q", k))
		}
		if len(vs) != 1 {
			return nil, invalid(fmt.Sprintf("query parameter %s given more than once", k))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// queryUint parses an optional non-negative integer parameter.
func queryUint(q map[string]string, name string) (uint64, error) {
	v, ok := q[name]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, invalid(fmt.Sprintf("%s must be a non-negative integer", name))
	}
	return n, nil
}

// bindStrict reads the request body (within the size limit) and decodes it
// into v, refusing unknown fields: the front of every JSON request that is not
// an instruction.
func (s *Server) bindStrict(c echo.Context, v any) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}
