package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// KeyPrefix starts every key NewKey makes, so a leaked key is recognisable
// (secret scanners, logs) as a tokenledger key.
const KeyPrefix = "tl_"

// keyRandomBytes is the entropy of a key: 256 bits.
const keyRandomBytes = 32

// NewKey makes a new API key: KeyPrefix and 32 random bytes in unpadded
// base64url. Only HashKey of it may be stored or replicated.
func NewKey() (string, error) {
	b := make([]byte, keyRandomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api: make key: %w", err)
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashKey is what the ledger stores for a key: the lowercase hex SHA-256 of
// the key's text as sent in the Authorization header. cmd/node hashes the
// bootstrap key with it too.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// principal is the authenticated party of a request.
type principal struct {
	party transfer.Party
	// keyID is the public id (ledger.KeyID) of the key that authenticated
	// the request; instructions carry it, so the state machine refuses them
	// if the key is revoked or expired by the time they apply.
	keyID string
}

func (p principal) id() string             { return p.party.ID }
func (p principal) role() eligibility.Role { return p.party.Role }

// seesEverything is true for the roles that read the whole ledger.
func (p principal) seesEverything() bool {
	return p.party.Role == eligibility.RoleOperator || p.party.Role == eligibility.RoleAuditor
}

const principalKey = "tokenledger.principal"

// errUnauthenticated is the single answer to every authentication failure, so
// a client cannot tell an unknown key from a malformed header.
var errUnauthenticated = newError(http.StatusUnauthorized, CodeUnauthenticated, "a valid Authorization: Bearer key is required")

// authenticate resolves the bearer key to its party. The key is hashed before
// the lookup, so the ledger compares hashes, never secrets, and the time a
// lookup takes says nothing useful about the secret. Neither the key nor its
// hash is logged.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, ok := bearerKey(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return s.refuseKey(c)
		}
		// A key unknown, revoked, expired, or whose party is gone (never,
		// today), authenticates no one.
		// Expiry is judged by this node's clock, as a certificate's is:
		// every node refuses an expired key, forwarded requests included,
		// since the follower authenticates before it forwards.
		hash := HashKey(key)
		party, err := s.reader.KeyOwnerAt(hash, s.cfg.Now())
		if errors.Is(err, ledger.ErrNotFound) {
			return s.refuseKey(c)
		}
		if err != nil {
			return fmt.Errorf("resolve key: %w", err)
		}
		if party.Closed {
			// A recovered account's keys may be in the wrong hands.
			return s.refuseKey(c)
		}
		c.Set(principalKey, principal{party: party, keyID: ledger.KeyID(hash)})
		return next(c)
	}
}

// refuseKey answers a request whose key is missing or unknown: 401, or 429
// with Retry-After once its address has failed too often (authThrottle).
// It is reached only after the key was looked up, so a valid key is never
// slowed by its address's failures.
func (s *Server) refuseKey(c echo.Context) error {
	if wait := s.throttle.fail(c.Request().RemoteAddr); wait > 0 {
		c.Response().Header().Set("Retry-After", retryAfter(wait))
		return errTooManyRequests
	}
	return errUnauthenticated
}

// bearerKey extracts the key of "Bearer <key>"; the scheme is case-insensitive.
func bearerKey(header string) (string, bool) {
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	if key == "" || len(key) > MaxKeyBytes {
		return "", false
	}
	return key, true
}

// who returns the request's principal; authenticate has set it.
func who(c echo.Context) principal {
	p, ok := c.Get(principalKey).(principal)
	assert(ok, "handler of %s runs without authenticate", c.Path())
	return p
}

// requireRole refuses every role but the ones given.
func requireRole(p principal, roles ...eligibility.Role) error {
	for _, r := range roles {
		if p.role() == r {
			return nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return notAuthorized("only " + strings.Join(names, " or ") + " may do this")
}

// assert panics when a condition the code guarantees does not hold; the
// recover middleware answers 500 and logs it.
func assert(cond bool, format string, args ...any) {
	if !cond {
		panic(fmt.Sprintf("api: assertion failed: "+format, args...))
	}
}
