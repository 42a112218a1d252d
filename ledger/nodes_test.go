package ledger

import "testing"

// A removed node's record stays, marked removed, and its id is never taken
// again, whatever proposes it: the node that held it may have voted under it.
// The checkpoint key a node publishes stays when a record without one (the
// operator's) replaces it.
func TestNodeRegistry(t *testing.T) {
	h := newHarness(t)
	n3 := NodeInfo{ID: "n3", RaftAddr: "127.0.0.1:7003", APIAddr: "127.0.0.1:8083"}
	const key = "tokenledger/n3+0badf00d+AQID"
	self := NodeInfo{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true, NoteKey: key}
	steps := []struct {
		name     string
		item     NodeInfo
		wantCode string // "" accepted
		want     []NodeInfo
	}{
		{"add", n3, "", []NodeInfo{n3}},
		{"the node registers itself", NodeInfo{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true}, "",
			[]NodeInfo{{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true}}},
		{"the node publishes its checkpoint key", self, "", []NodeInfo{self}},
		{"the operator records the addresses again", n3, "",
			[]NodeInfo{{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, NoteKey: key}}},
		{"the node registers itself again", self, "", []NodeInfo{self}},
		{"remove", NodeInfo{ID: "n3", Removed: true}, "",
			[]NodeInfo{{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true, Removed: true, NoteKey: key}}},
		{"add again", n3, ErrCodeIDReused,
			[]NodeInfo{{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true, Removed: true, NoteKey: key}}},
		{"register again", NodeInfo{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true}, ErrCodeIDReused,
			[]NodeInfo{{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true, Removed: true, NoteKey: key}}},
		{"remove an unknown id", NodeInfo{ID: "n7", Removed: true}, "",
			[]NodeInfo{{ID: "n3", RaftAddr: n3.RaftAddr, APIAddr: n3.APIAddr, Active: true, Removed: true, NoteKey: key}, {ID: "n7", Removed: true}}},
	}
	for _, st := range steps {
		out := h.apply(NodeItem(st.item))[0]
		code := ""
		if out.Error != nil {
			code = out.Error.Code
		}
		if code != st.wantCode {
			t.Errorf("%s: outcome %+v, want code %q", st.name, out, st.wantCode)
		}
		got, err := h.s.Nodes()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(st.want) {
			t.Fatalf("%s: nodes %+v, want %+v", st.name, got, st.want)
		}
		for i := range got {
			if got[i] != st.want[i] {
				t.Errorf("%s: nodes[%d] = %+v, want %+v", st.name, i, got[i], st.want[i])
			}
		}
	}
}
