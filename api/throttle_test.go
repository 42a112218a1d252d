package api

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestAuthThrottleBounded floods the throttle with 200,000 distinct
// addresses, each failing once and then (for every tenth) more than its
// burst, and checks that it never tracks more than AuthFailureAddresses,
// that the least recently failed are the ones evicted, and that an address
// it still tracks stays throttled.
func TestAuthThrottleBounded(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	th := newAuthThrottle(func() time.Time { return now })
	const flood = 200_000
	addr := func(i int) string {
		return fmt.Sprintf("10.%d.%d.%d:443", byte(i>>16), byte(i>>8), byte(i))
	}
	for i := range flood {
		if wait := th.fail(addr(i)); wait != 0 {
			t.Fatalf("first failure of %s: wait %s, want none", addr(i), wait)
		}
		if n := th.len(); n > AuthFailureAddresses {
			t.Fatalf("after %d addresses the throttle tracks %d, want at most %d", i+1, n, AuthFailureAddresses)
		}
	}
	if n := th.len(); n != AuthFailureAddresses {
		t.Errorf("tracks %d addresses after the flood, want %d", n, AuthFailureAddresses)
	}
	// The most recent addresses are kept, with one failure used each.
	last := flood - 1
	for range AuthFailureBurst - 1 {
		if wait := th.fail(addr(last)); wait != 0 {
			t.Fatalf("a kept address was refused early: wait %s", wait)
		}
	}
	if wait := th.fail(addr(last)); wait != AuthFailureRefill {
		t.Errorf("a kept address past its burst: wait %s, want %s", wait, AuthFailureRefill)
	}
	// The oldest was evicted: it starts again with a full bucket.
	for range AuthFailureBurst {
		if wait := th.fail(addr(0)); wait != 0 {
			t.Fatalf("an evicted address was remembered: wait %s", wait)
		}
	}
	if n := th.len(); n != AuthFailureAddresses {
		t.Errorf("tracks %d addresses, want %d", n, AuthFailureAddresses)
	}
}

// TestThrottleKey checks which requests share a bucket: every port of an
// IPv4 address, an IPv4-mapped IPv6 address with its IPv4 form, and every
// address of an IPv6 /64.
func TestThrottleKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1:1", "192.0.2.1:2", true},
		{"192.0.2.1:1", "192.0.2.2:1", false},
		{"[::ffff:192.0.2.1]:1", "192.0.2.1:9", true},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2", true},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1", false},
		{"not an address", "also not", true},
	}
	for _, tc := range tests {
		if got := throttleKey(tc.a) == throttleKey(tc.b); got != tc.same {
			t.Errorf("throttleKey(%q) == throttleKey(%q): %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
	if got, want := throttleKey("[2001:db8:1:2:3:4:5:6]:1"), netip.MustParseAddr("2001:db8:1:2::"); got != want {
		t.Errorf("throttleKey of an IPv6 address = %s, want its /64 %s", got, want)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want string
	}{
		{time.Nanosecond, "1"}, {time.Second, "1"}, {time.Second + 1, "2"}, {90 * time.Second, "90"},
	} {
		if got := retryAfter(tc.wait); got != tc.want {
			t.Errorf("retryAfter(%s) = %s, want %s", tc.wait, got, tc.want)
		}
	}
}
