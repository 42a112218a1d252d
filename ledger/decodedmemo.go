package ledger

import (
	"bytes"
	"unsafe"
)

// decodedMemo keeps the parties Apply's views decoded in earlier calls,
// each beside a copy of the record it came from, so a record read again
// with the same bytes is copied out rather than decoded. A view decodes
// every party it reads afresh (txView.Party), a transfer reads two, and
// parties change seldom: decoding them was about a twentieth of a
// transfer's machine instructions. The record cache keeps records encoded
// and pointer-free for the collector's sake; this memo holds pointers, so
// it is small and fixed (memoSlots): a register's active parties stay in
// it, and a cold one costs a compare and a copy more than before.
//
// Holdings are not kept: a transfer rewrites both the holdings it reads,
// so a holding read again has new bytes, and what the view holds at its
// flush is not the representation a decode of the new bytes gives (an
// amount's trailing zeros, a time's encoding): keeping it would let a
// node that has run a while and one just restarted read different values
// of the same record.
//
// A slot is found by where the record's bytes are (the record cache, a
// layer or the file's map: they stay put while the record is unchanged),
// and trusted only when its record is byte for byte the one asked for: a
// record moved or rewritten misses, and is decoded and kept again. The key
// needs no compare: a record's decoding depends on its bytes alone, the
// key giving only the party's id, which the caller's string fills in. Only
// Apply's views use it (stateCache), one call at a time.
type decodedMemo struct {
	parties []memoParty
}

// memoSlots is the memo's slots, a power of two: about 1.4 MB when full.
const memoSlots = 4096

// memoRecordBytes is the room a slot has for its record's copy: a party's
// record is some 40 to 120 bytes.
const memoRecordBytes = 128

// memoParty is a party record as decoded, without its id.
type memoParty struct {
	raw []byte
	rec partyRecord
}

// memoSlot is the slot of a record at raw, of n slots.
func memoSlot(raw []byte, n int) int {
	p := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(raw))))
	return int((p * 0x9E3779B97F4A7C15) >> 40 & uint64(n-1))
}

// party fills p with the party id, record raw, as decoded before, and
// reports whether it was.
func (m *decodedMemo) party(raw []byte, id string, p *partyRecord) bool {
	if m.parties == nil {
		return false
	}
	s := &m.parties[memoSlot(raw, len(m.parties))]
	if !bytes.Equal(s.raw, raw) {
		return false
	}
	*p = s.rec
	p.ID = id
	if p.KYCExpiresAt != nil {
		p.KYCExpiresAt = &p.kycExpiresAt // the record's own field, as decodePartyInto sets it
	}
	return true
}

// keepParty keeps p, as decodePartyInto decoded it from record raw.
func (m *decodedMemo) keepParty(raw []byte, p *partyRecord) {
	if m.parties == nil {
		// Each slot's copy starts in one array, so filling the memo is
		// not an allocation a slot; a longer record gets its own.
		m.parties = make([]memoParty, memoSlots)
		space := make([]byte, memoSlots*memoRecordBytes)
		for i := range m.parties {
			m.parties[i].raw = space[i*memoRecordBytes : i*memoRecordBytes : (i+1)*memoRecordBytes]
		}
	}
	s := &m.parties[memoSlot(raw, len(m.parties))]
	s.raw = append(s.raw[:0], raw...)
	s.rec = *p
	s.rec.ID = "" // the caller's, which may be a request's bytes
	s.rec.KYCExpiresAt = nil
	if p.KYCExpiresAt != nil {
		s.rec.KYCExpiresAt = &s.rec.kycExpiresAt // set again from kycExpiresAt on a hit
	}
}
