package transfer

import "unsafe"

// DecodeArena hands out the memory of the instructions it decodes in
// blocks: the text their strings point into, their legs, their amounts.
// Apply decodes one instruction after another, and one allocation each for
// the text and for the legs was a seventh of all it allocated. Nothing
// handed out is ever written again (a block that is full is left to the
// collector and a new one taken), so an instruction, or a string of it, that
// a caller keeps stays valid; it keeps its block alive with it. The zero
// value is ready; an arena is not safe for concurrent use.
type DecodeArena struct {
	text    []byte
	legs    []Leg
	amounts []Amount
}

// Block sizes: about 40 instructions' text, 64 legs, 64 amounts.
const (
	arenaTextBlock   = 8 << 10
	arenaLegsBlock   = 64
	arenaAmountBlock = 64
)

// String returns b as a string in the arena's text.
func (a *DecodeArena) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.text)-len(a.text) < len(b) {
		a.text = make([]byte, 0, max(arenaTextBlock, len(b)))
	}
	start := len(a.text)
	a.text = append(a.text, b...)
	// The bytes are never written again (above), so they are as immutable
	// as a string's must be.
	return unsafe.String(&a.text[start], len(b))
}

// legSlice returns a copy of legs in the arena, its capacity its length so
// that an append by the caller cannot reach the next instruction's legs.
func (a *DecodeArena) legSlice(legs []Leg) []Leg {
	if cap(a.legs)-len(a.legs) < len(legs) {
		a.legs = make([]Leg, 0, max(arenaLegsBlock, len(legs)))
	}
	start := len(a.legs)
	a.legs = append(a.legs, legs...)
	return a.legs[start:len(a.legs):len(a.legs)]
}

// amount returns a pointer to a copy of x in the arena.
func (a *DecodeArena) amount(x Amount) *Amount {
	if len(a.amounts) == cap(a.amounts) {
		a.amounts = make([]Amount, 0, arenaAmountBlock)
	}
	a.amounts = append(a.amounts, x)
	return &a.amounts[len(a.amounts)-1]
}

// DecodeCanonical is the package's DecodeCanonical in a's memory.
func (a *DecodeArena) DecodeCanonical(data []byte) (Instruction, error) {
	ins, _, err := a.DecodeCanonicalEncoded(data)
	return ins, err
}

// DecodeCanonicalEncoded is DecodeCanonical, and reports too whether data
// is exactly AppendEncode of the instruction (encoded), as the fast decoder
// sees while it reads: a caller that needs to know, as the journal does to
// keep a body in binary, need not encode it again to compare. false is
// "not known", never "differs": the caller then encodes and compares.
func (a *DecodeArena) DecodeCanonicalEncoded(data []byte) (ins Instruction, encoded bool, err error) {
	ins, ok, encoded := decodeFastEncoded(data, a)
	if !ok {
		if ins, err = decodeStrict(data); err != nil {
			return Instruction{}, false, err
		}
	}
	ins, err = checkDecoded(ins)
	return ins, encoded && err == nil, err
}
