package transfer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Product attributes as a client sends them (create_instrument's
// instrument.attributes, POST /v1/classify's attributes) must name every
// attribute that applies, each with its JSON type: a missing one used to
// read as the plain case (linear, no expiry, leverage 1), so a product could
// pass as what it is not. The state machine decodes leniently, as before,
// so instructions journaled before still apply alike; the strictness is
// the API's, at the edge (Decode, CheckAttributesJSON).

// attributeKind is the JSON type of an attribute.
type attributeKind int

const (
	kindString attributeKind = iota
	kindAmount               // a string in the plain decimal grammar
	kindInteger
	kindBool
)

// attributeFields are the attributes in their canonical order, with their
// JSON type.
var attributeFields = []struct {
	name string
	kind attributeKind
}{
	{"underlying", kindString}, {"payoff", kindString}, {"embedded_leverage", kindAmount},
	{"expiry_days", kindInteger}, {"economic_purpose", kindString}, {"event_topic", kindString},
	{"counterparty_is_platform", kindBool}, {"outcome_controllable", kindBool},
	{"fx_major", kindBool}, {"perpetual", kindBool},
}

// requiredAttributes apply to every product; eventAttributes to event
// contracts too. fx_major and perpetual are flags whose absence says no.
var (
	requiredAttributes = []string{"underlying", "payoff", "embedded_leverage", "expiry_days", "economic_purpose"}
	eventAttributes    = []string{"event_topic", "counterparty_is_platform", "outcome_controllable"}
)

// CheckAttributesJSON checks a product's attributes as sent, the JSON value
// at path (e.g. "instrument.attributes"): an object naming no unknown
// attribute (ErrUnknownField), every attribute that applies (ErrMalformed;
// the event ones for underlying "event"), each of its JSON type, strings not
// empty. Errors name the field. Values are left to classification.
func CheckAttributesJSON(path string, raw json.RawMessage) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fmt.Errorf("%w: %s is required", ErrMalformed, path)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%w: %s must be an object", ErrMalformed, path)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.ContainsFunc(attributeFields, func(f struct {
			name string
			kind attributeKind
		}) bool {
			return f.name == k
		}) {
			return fmt.Errorf("%w: %s.%.40q is not a product attribute", ErrUnknownField, path, k)
		}
	}
	for _, f := range attributeFields {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		if err := checkAttributeKind(v, f.kind); err != "" {
			return fmt.Errorf("%w: %s.%s must be %s", ErrMalformed, path, f.name, err)
		}
	}
	need := requiredAttributes
	var underlying string
	_ = json.Unmarshal(m["underlying"], &underlying)
	if underlying == eligibility.UnderlyingEvent {
		need = append(slices.Clip(need), eventAttributes...)
	}
	for _, name := range need {
		v, ok := m[name]
		if !ok {
			return fmt.Errorf("%w: %s.%s is required", ErrMalformed, path, name)
		}
		if string(v) == `""` && name != "event_topic" {
			return fmt.Errorf("%w: %s.%s is required and may not be empty", ErrMalformed, path, name)
		}
	}
	return nil
}

// checkAttributeKind says what v should have been, or "" when it is of kind.
func checkAttributeKind(v json.RawMessage, kind attributeKind) string {
	switch kind {
	case kindString:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "a string"
		}
	case kindAmount:
		// Its grammar is the strict decoding's (ErrBadAmount).
		var s string
		if json.Unmarshal(v, &s) != nil {
			return `a decimal string like "1.5"`
		}
	case kindInteger:
		var n int
		if bytes.ContainsAny(v, ".eE") || json.Unmarshal(v, &n) != nil {
			return "an integer"
		}
	case kindBool:
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return "true or false"
		}
	}
	return ""
}

// checkInstrumentAttributes applies CheckAttributesJSON to the attributes of
// a create_instrument's instrument, when that is an object; anything else
// is left to the strict decoding, which names it.
func checkInstrumentAttributes(raw json.RawMessage) error {
	var in map[string]json.RawMessage
	if json.Unmarshal(raw, &in) != nil {
		return nil
	}
	return CheckAttributesJSON("instrument.attributes", in["attributes"])
}
