package transfer

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestPresentSet holds presentSet's bits to their names: an instruction
// with one field set, each of its fields in turn, has exactly the bit
// presentFieldNames gives that field's JSON name; a leg's consideration and
// a party's incomes add their own bits after every other; every field but
// id and type has a bit, and every bit is some field's. The binary
// encoding stores these bits, so a bit moved or a field left out shows here.
func TestPresentSet(t *testing.T) {
	typ := reflect.TypeFor[Instruction]()
	var seen uint64
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "id" || name == "type" || name == "" || name == "-" {
			continue
		}
		bit := slices.Index(presentFieldNames[:], name)
		if bit < 0 {
			t.Errorf("field %s (%q) has no bit in presentFieldNames", f.Name, name)
			continue
		}
		var ins Instruction
		setField(reflect.ValueOf(&ins).Elem().Field(i))
		if got, want := ins.presentSet(), uint64(1)<<bit; got != want {
			t.Errorf("only %s set: presentSet %032b, want %032b", f.Name, got, want)
		}
		seen |= 1 << bit
	}
	one := Amount("1")
	nested := []struct {
		what string
		ins  Instruction
		want []int
	}{
		{"a leg with a consideration", Instruction{Legs: []Leg{{Consideration: &one}}}, []int{11, 23}},
		{"a party with an annual income", Instruction{Party: &PartySpec{AnnualIncome: &one}}, []int{0, 24}},
		{"a party with a net worth", Instruction{Party: &PartySpec{NetWorth: &one}}, []int{0, 24}},
	}
	for _, n := range nested {
		var want uint64
		for _, b := range n.want {
			want |= 1 << b
		}
		if got := n.ins.presentSet(); got != want {
			t.Errorf("%s: presentSet %032b, want %032b", n.what, got, want)
		}
		seen |= want
	}
	if all := uint64(1)<<len(presentFieldNames) - 1; seen != all {
		t.Errorf("bits no field sets: %032b", all&^seen)
	}
	for i, f := range (&Instruction{Legs: []Leg{{Consideration: &one}}}).presentFields() {
		if f.name != presentFieldNames[i] || f.set != (i == 11 || i == 23) {
			t.Errorf("presentFields()[%d] = %+v, not bit %d of presentSet", i, f, i)
		}
	}
}

// setField gives f, a field of Instruction, a value that counts as present:
// a pointer to a zero value, a non-empty string, true, a slice of one.
func setField(f reflect.Value) {
	switch f.Kind() {
	case reflect.Pointer:
		f.Set(reflect.New(f.Type().Elem()))
	case reflect.String:
		f.SetString("x")
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Slice:
		f.Set(reflect.MakeSlice(f.Type(), 1, 1))
	}
}
