package ledger

import (
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// A set_rulebook with effective_at journals the rulebook at once and keeps
// it in the meta bucket (metaScheduledRulebook, metaScheduledAt) until the
// first batch whose time, clamped as every batch's is, is at or after
// effective_at; that batch puts it in force before its first item. Batch
// times come from the log, so every node switches at the same batch, and the
// schedule, being state, travels in snapshots and counts in Hashes. A later
// set_rulebook, scheduled or not, replaces the schedule.

// schedule is the applier's copy of the scheduled rulebook's date, read from
// meta on first use in a call.
type schedule struct {
	read bool
	set  bool
	at   time.Time
}

// promoteRulebook puts the scheduled rulebook in force if now has reached
// its date. It runs at the start of every batch.
func (a *applier) promoteRulebook(now time.Time) {
	if !a.sched.read {
		a.sched.at, a.sched.set = getScheduledAt(a.meta)
		a.sched.read = true
	}
	if !a.sched.set || now.Before(a.sched.at) {
		return
	}
	text := a.meta.Get(metaScheduledRulebook)
	assert(text != nil, "a rulebook scheduled at %s without its text", a.sched.at)
	rb, err := eligibility.Parse(text)
	assert(err == nil, "scheduled rulebook does not parse: %v", err)
	// The view writes the rulebook in force to meta when it flushes, as it
	// does for a set_rulebook without a date.
	a.view.commit(transfer.Changes{Rulebook: rb}, a.seq)
	a.setSchedule(nil)
}

// replaceSchedule records what an accepted set_rulebook does to the
// schedule: a scheduled rulebook replaces any other; one put in force at
// once drops it.
func (a *applier) replaceSchedule(c transfer.Changes) {
	if c.Rulebook == nil && c.Scheduled == nil {
		return
	}
	a.setSchedule(c.Scheduled)
}

func (a *applier) setSchedule(s *transfer.ScheduledRulebook) {
	a.sched = schedule{read: true}
	if s == nil {
		mustDelete(a.meta, metaScheduledRulebook)
		mustDelete(a.meta, metaScheduledAt)
		return
	}
	a.sched.set, a.sched.at = true, s.EffectiveAt
	mustPut(a.meta, metaScheduledRulebook, s.Rulebook.YAML(), "scheduled rulebook")
	mustPut(a.meta, metaScheduledAt, []byte(s.EffectiveAt.UTC().Format(time.RFC3339Nano)), "scheduled rulebook date")
}

func mustDelete(b *kv.Bucket, k []byte) {
	if err := b.Delete(k); err != nil {
		panic(fmt.Sprintf("ledger: delete %s: %v", k, err))
	}
}

// getScheduledAt reads the date of the scheduled rulebook, if any.
func getScheduledAt(meta *kv.Bucket) (time.Time, bool) {
	v := meta.Get(metaScheduledAt)
	if v == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	assert(err == nil, "stored scheduled rulebook date %q: %v", v, err)
	return t, true
}

// ScheduledRulebook returns the rulebook set to take force later, or nil.
func (s *Store) ScheduledRulebook() (sched *transfer.ScheduledRulebook, err error) {
	err = s.view(func(tx *kv.Tx) error {
		sched, err = scheduledRulebook(tx.Bucket(bucketMeta))
		return err
	})
	return sched, err
}

func scheduledRulebook(meta *kv.Bucket) (*transfer.ScheduledRulebook, error) {
	at, ok := getScheduledAt(meta)
	if !ok {
		return nil, nil
	}
	rb, err := eligibility.Parse(meta.Get(metaScheduledRulebook))
	if err != nil {
		return nil, fmt.Errorf("ledger: stored scheduled rulebook does not parse: %w", err)
	}
	return &transfer.ScheduledRulebook{Rulebook: rb, EffectiveAt: at}, nil
}

// rulebookAt is the rulebook a batch at now would decide under: the
// scheduled one once its date has come, which only the next batch makes
// the rulebook in force. Dry runs use it, so POST /v1/check answers what a
// write sent now would get.
func (s *Store) rulebookAt(tx *kv.Tx, now time.Time) *eligibility.Rulebook {
	meta := tx.Bucket(bucketMeta)
	if at, ok := getScheduledAt(meta); ok && !now.Before(at) {
		if sched, err := scheduledRulebook(meta); err == nil {
			return sched.Rulebook
		}
	}
	return s.Rulebook()
}

// checkSchedule checks that a scheduled rulebook parses and is still to
// come: the batch at or after its date would have put it in force.
func checkSchedule(tx *kv.Tx, bad func(format string, args ...any)) {
	meta := tx.Bucket(bucketMeta)
	at, ok := getScheduledAt(meta)
	if !ok {
		if meta.Get(metaScheduledRulebook) != nil {
			bad("a scheduled rulebook without its date")
		}
		return
	}
	if _, err := scheduledRulebook(meta); err != nil {
		bad("%v", err)
	}
	if last := getTime(meta); !at.After(last) {
		bad("the rulebook scheduled at %s is not in force after a batch at %s", at.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
	}
}
