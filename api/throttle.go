package api

import (
	"container/list"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Failed authentication is slowed per client address (API.md, Users' tools
// and access). Each address has a token bucket of AuthFailureBurst failures
// that refills one failure per AuthFailureRefill; a request whose key is
// missing or unknown takes one, and once the bucket is empty such a request
// is answered 429 TOO_MANY_REQUESTS with Retry-After instead of 401. A valid
// key is never slowed, so a client sharing an address (a NAT, a proxy) with
// a misconfigured one keeps working.
//
// Keys carry 256 bits, so no rate limit is what makes them unguessable; the
// limit tells a client that keeps failing to stop, and keeps its 401s from
// filling the access log.
const (
	// AuthFailureBurst is how many failed authentications an address may
	// make before it is slowed: enough for a person retyping a key.
	AuthFailureBurst = 10
	// AuthFailureRefill is the time in which an address earns back one
	// failed authentication: one a second.
	AuthFailureRefill = time.Second
	// AuthFailureAddresses bounds the addresses tracked at once. A flood of
	// distinct addresses evicts the least recently failed first, so memory
	// stays at a few MiB; an evicted address starts again with a full bucket.
	AuthFailureAddresses = 65_536
	// authFailurePrefixV6 groups IPv6 addresses by their /64, the block one
	// host is usually given: one host could otherwise fail from 2^64
	// addresses, each with a full bucket.
	authFailurePrefixV6 = 64
)

// errTooManyRequests answers a request with a missing or unknown key from an
// address whose bucket is empty.
var errTooManyRequests = newError(http.StatusTooManyRequests, CodeTooManyRequests, "too many failed authentications from this address; retry after Retry-After with a valid key")

// authThrottle is the fixed-capacity table of buckets, one per address. It
// stores, per address, the time at which its bucket would be full again
// (GCRA): one time.Time instead of a count and a time, and no timer.
type authThrottle struct {
	burst    int
	refill   time.Duration
	capacity int
	now      func() time.Time

	mu     sync.Mutex // guards byAddr and recent
	byAddr map[netip.Addr]*list.Element
	recent *list.List // of *authBucket, the most recently failed first
}

type authBucket struct {
	addr netip.Addr
	// full is when the bucket holds AuthFailureBurst again; a time before
	// now means it is full.
	full time.Time
}

func newAuthThrottle(now func() time.Time) *authThrottle {
	return &authThrottle{
		burst: AuthFailureBurst, refill: AuthFailureRefill, capacity: AuthFailureAddresses, now: now,
		byAddr: make(map[netip.Addr]*list.Element), recent: list.New(),
	}
}

// fail records a failed authentication from remoteAddr (an http.Request's
// RemoteAddr). It returns 0 when the failure is within the address's
// allowance, else how long until the next one is.
func (t *authThrottle) fail(remoteAddr string) time.Duration {
	addr := throttleKey(remoteAddr)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.byAddr[addr]
	if !ok {
		if t.recent.Len() >= t.capacity {
			oldest := t.recent.Back()
			delete(t.byAddr, oldest.Value.(*authBucket).addr)
			t.recent.Remove(oldest)
		}
		el = t.recent.PushFront(&authBucket{addr: addr})
		t.byAddr[addr] = el
	} else {
		t.recent.MoveToFront(el)
	}
	assert(t.recent.Len() <= t.capacity, "auth throttle holds %d addresses, capacity %d", t.recent.Len(), t.capacity)
	b := el.Value.(*authBucket)
	// Each failure moves the full time one refill later; the bucket is
	// empty when that would put it more than burst refills ahead of now.
	full := b.full
	if full.Before(now) {
		full = now
	}
	full = full.Add(t.refill)
	if over := full.Sub(now) - time.Duration(t.burst)*t.refill; over > 0 {
		return over
	}
	b.full = full
	return 0
}

// len is the number of addresses tracked.
func (t *authThrottle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	assert(len(t.byAddr) == t.recent.Len(), "auth throttle map %d and list %d differ", len(t.byAddr), t.recent.Len())
	return t.recent.Len()
}

// throttleKey is the address a bucket belongs to: the IP of remoteAddr
// without its port, an IPv6 address cut to its /64. RemoteAddr is the peer
// of the TCP connection; X-Forwarded-For is not trusted, since any client
// can set it. A RemoteAddr that does not parse shares the zero key.
func throttleKey(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(authFailurePrefixV6); err == nil {
			addr = p.Addr()
		}
	}
	return addr
}

// retryAfter renders a wait as Retry-After's whole seconds, at least one.
func retryAfter(wait time.Duration) string {
	secs := int64((wait + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}
