package transfer

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestPresentSet holds presentSet, the bit set checkDecoded and
// AppendInstruction read, to presentFields, field by field: instructions
// with random fields set (every exported field of the instruction, a
// party's incomes, a leg's consideration) have the same set both ways.
// It also checks that every field can be set, so a field added to one
// and not the other shows.
func TestPresentSet(t *testing.T) {
	var seen uint64
	for seed := range uint64(3000) {
		r := rand.New(rand.NewPCG(seed, 7))
		var ins Instruction
		fillRandom(r, reflect.ValueOf(&ins).Elem(), 0)
		var want uint64
		for i, f := range ins.presentFields() {
			if f.set {
				want |= 1 << i
			}
		}
		if got := ins.presentSet(); got != want {
			t.Fatalf("seed %d: presentSet %032b, presentFields %032b (%+v)", seed, got, want, ins)
		}
		seen |= want
	}
	if all := uint64(1)<<len(presentFieldNames) - 1; seen != all {
		t.Fatalf("fields never set by the generator: %032b", all&^seen)
	}
}

// fillRandom sets each exported field of v, a struct, with probability one
// half: a pointer to a zero value (filled in turn at the first levels), a
// non-empty string, true, a slice of one element.
func fillRandom(r *rand.Rand, v reflect.Value, depth int) {
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() || r.IntN(2) == 0 {
			continue
		}
		switch f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
			if f.Elem().Kind() == reflect.Struct && depth < 2 {
				fillRandom(r, f.Elem(), depth+1)
			}
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			if e := f.Index(0); e.Kind() == reflect.Struct && depth < 2 {
				fillRandom(r, e, depth+1)
			}
		}
	}
}
