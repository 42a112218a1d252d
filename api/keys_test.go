package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
)

var keyIDPattern = regexp.MustCompile(`^k_[0-9a-f]{16}$`)

type madeKey struct {
	PartyID   string     `json:"party_id"`
	KeyID     string     `json:"key_id"`
	Key       string     `json:"key"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// TestKeysExpireAndRevoke makes keys with and without expiry, lists them as
// each kind of caller, lets one expire by the node's clock and revokes
// another, and reads the journal entries both leave.
func TestKeysExpireAndRevoke(t *testing.T) {
	var clock atomic.Int64
	clock.Store(epoch.UnixNano())
	e := newEnv(t, api.Config{Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	e.world()
	expires := epoch.Add(time.Hour)

	var short, spare madeKey
	e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys",
		`{"party_id":"cus-1","expires_at":"`+expires.Format(time.RFC3339)+`"}`).decode(t, &short)
	e.must(http.StatusCreated, ledger.OperatorID, "POST", "/v1/keys", `{"party_id":"cus-1"}`).decode(t, &spare)
	for _, k := range []madeKey{short, spare} {
		if !keyIDPattern.MatchString(k.KeyID) || strings.Contains(k.KeyID, api.HashKey(k.Key)[:16]) {
			t.Errorf("key_id %q: want k_ and 16 hex characters, not part of the hash", k.KeyID)
		}
	}
	if short.ExpiresAt == nil || !short.ExpiresAt.Equal(expires) {
		t.Errorf("expires_at answered %v, want %s", short.ExpiresAt, expires)
	}

	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"expires_at now", `{"party_id":"cus-1","expires_at":"` + epoch.Format(time.RFC3339) + `"}`, http.StatusBadRequest},
		{"expires_at in the past", `{"party_id":"cus-1","expires_at":"2020-01-01T00:00:00Z"}`, http.StatusBadRequest},
		{"expires_at not a time", `{"party_id":"cus-1","expires_at":"tomorrow"}`, http.StatusBadRequest},
		{"an unknown field", `{"party_id":"cus-1","expiry":"2030-01-01T00:00:00Z"}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.as(ledger.OperatorID, "POST", "/v1/keys", tc.body); r.status != tc.want {
				t.Errorf("status %d (%s), want %d", r.status, r.body, tc.want)
			}
		})
	}

	// Listing: a party sees its own keys, the operator anyone's.
	var own struct{ Keys []ledger.KeyInfo }
	e.must(http.StatusOK, "cus-1", "GET", "/v1/keys", "").decode(t, &own)
	if len(own.Keys) != 3 {
		t.Fatalf("cus-1 lists %d keys, want 3: %+v", len(own.Keys), own.Keys)
	}
	for _, k := range own.Keys {
		if k.PartyID != "cus-1" || k.CreatedAt == nil || k.Revoked {
			t.Errorf("listed %+v, want cus-1's dated, unrevoked key", k)
		}
	}
	var all struct{ Keys []ledger.KeyInfo }
	e.must(http.StatusOK, ledger.OperatorID, "GET", "/v1/keys", "").decode(t, &all)
	if len(all.Keys) != len(own.Keys)+9 { // the operator's and world's other eight
		t.Errorf("the operator lists %d keys, want %d", len(all.Keys), len(own.Keys)+9)
	}
	e.must(http.StatusForbidden, "cus-1", "GET", "/v1/keys?party=inv-a", "")

	// Expiry is the node's clock against expires_at.
	e.must(http.StatusOK, "aud", "GET", "/v1/rulebook", "")
	if r := e.do("GET", "/v1/keys", short.Key, ""); r.status != http.StatusOK {
		t.Errorf("before expiry: %d, want 200", r.status)
	}
	clock.Store(expires.UnixNano())
	if r := e.do("GET", "/v1/keys", short.Key, ""); r.status != http.StatusUnauthorized || r.errorCode() != string(api.CodeUnauthenticated) {
		t.Errorf("at expiry: %d %s, want 401 UNAUTHENTICATED", r.status, r.body)
	}

	// A party revokes its own key, not another's.
	e.must(http.StatusForbidden, "cus-1", "DELETE", "/v1/keys/"+ledger.KeyID(api.HashKey(e.keys["iss-1"])), "")
	e.must(http.StatusNoContent, "cus-1", "DELETE", "/v1/keys/"+spare.KeyID, "")
	if r := e.do("GET", "/v1/keys", spare.Key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("a revoked key: %d, want 401", r.status)
	}
	e.must(http.StatusNoContent, "cus-1", "DELETE", "/v1/keys/"+spare.KeyID, "") // again: nothing changes
	e.must(http.StatusNotFound, "cus-1", "DELETE", "/v1/keys/not-a-key-id", "")

	var page ledger.JournalPage
	e.must(http.StatusOK, ledger.OperatorID, "GET", "/v1/journal?party=cus-1&limit=1000", "").decode(t, &page)
	var events []string
	for _, en := range page.Entries {
		var ev struct {
			Type    string `json:"type"`
			KeyID   string `json:"key_id"`
			PartyID string `json:"party_id"`
		}
		if err := json.Unmarshal(en.Instruction, &ev); err != nil {
			t.Fatalf("journal entry %d: %v", en.Seq, err)
		}
		if strings.HasSuffix(ev.Type, "_key") {
			events = append(events, ev.Type+" "+ev.KeyID+" "+ev.PartyID+" by "+en.Actor)
		}
	}
	want := []string{
		"create_key " + ledger.KeyID(api.HashKey(e.keys["cus-1"])) + " cus-1 by operator",
		"create_key " + short.KeyID + " cus-1 by operator",
		"create_key " + spare.KeyID + " cus-1 by operator",
		"revoke_key " + spare.KeyID + " cus-1 by cus-1",
	}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("cus-1's key events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	var v struct{ OK bool }
	if e.must(http.StatusOK, "aud", "GET", "/v1/journal/verify", "").decode(t, &v); !v.OK {
		t.Error("the journal does not verify")
	}
}

// TestScheduledRulebookShown: GET /v1/rulebook shows a scheduled rulebook
// beside the one in force, and a date not after the batch is refused.
func TestScheduledRulebookShown(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	next := strings.Replace(string(eligibility.Default().YAML()), `version: "2026-12-default-1"`, `version: "next-1"`, 1)
	at := epoch.Add(48 * time.Hour)
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions",
		ins("set_rulebook", map[string]any{"rulebook": next, "effective_at": at.Format(time.RFC3339)}))
	var body struct {
		Version   string
		Scheduled *struct {
			Version     string
			EffectiveAt time.Time `json:"effective_at"`
		}
	}
	e.must(http.StatusOK, "inv-a", "GET", "/v1/rulebook", "").decode(t, &body)
	if body.Version != "2026-12-default-1" || body.Scheduled == nil || body.Scheduled.Version != "next-1" || !body.Scheduled.EffectiveAt.Equal(at) {
		t.Errorf("GET /v1/rulebook = %+v, want the default in force and next-1 scheduled at %s", body, at)
	}
	r := e.as(ledger.OperatorID, "POST", "/v1/instructions",
		ins("set_rulebook", map[string]any{"rulebook": next, "effective_at": epoch.Format(time.RFC3339)}))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "set_rulebook.effective_at") {
		t.Errorf("effective_at at the batch's time: %d %s, want 422 naming set_rulebook.effective_at", r.status, r.body)
	}
}

// TestLintRulebook lints proposed rulebooks: the findings of lint, the
// holdings a stricter one would not allow, and the refusals of bad bodies.
func TestLintRulebook(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	strict := strings.Replace(string(eligibility.Default().YAML()),
		"min_status: retail # anyone; registered securities trade freely", "min_status: institutional # strict", 1)
	lint := func(yaml string) string { return jsonOf(t, map[string]string{"rulebook": yaml}) }

	var got struct {
		Findings []eligibility.Finding
		Impact   []ledger.ImpactItem
	}
	e.must(http.StatusOK, "aud", "POST", "/v1/rulebook/lint", lint(string(eligibility.Default().YAML()))).decode(t, &got)
	if len(got.Findings) != len(eligibility.Lint(eligibility.Default())) || len(got.Impact) != 0 {
		t.Errorf("the default: %d findings and impact %+v; want lint's findings and no impact", len(got.Findings), got.Impact)
	}
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/rulebook/lint", lint(strict)).decode(t, &got)
	if len(got.Impact) != 1 || got.Impact[0].Party != "inv-a" || got.Impact[0].Symbol != "REG" || got.Impact[0].Rule != "registered.receive" {
		t.Errorf("impact of registered securities for institutions only: %+v, want inv-a's REG", got.Impact)
	}

	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"YAML that does not parse", lint("schema: ["), http.StatusBadRequest},
		{"no rulebook", `{}`, http.StatusBadRequest},
		{"an unknown field", `{"rulebook":"x","impact":true}`, http.StatusBadRequest},
		{"a rulebook above the limit", lint(strings.Repeat("#", 300<<10)), http.StatusRequestEntityTooLarge},
		{"a body above the limit", `{"rulebook":"` + strings.Repeat("\\u0023", api.MaxLintBodyBytes/6+1) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.as(ledger.OperatorID, "POST", "/v1/rulebook/lint", tc.body); r.status != tc.want {
				t.Errorf("status %d (%.200s), want %d", r.status, r.body, tc.want)
			}
		})
	}
}
