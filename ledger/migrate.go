package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Schema 2 stored each journal entry as its served JSON and each id record as
// 'I', the body hash and the outcome JSON. migrate rewrites both into the
// schema 3 records, keeping every hash (the entries stay HashV1), in
// transactions of migrateBatch records each, so a large journal never needs
// one huge transaction:
//
//  1. the new records go into the journal and ids buckets nested in the
//     migrate3 bucket, in key order; the last key there is the progress, so
//     a migration cut short resumes where its last transaction ended;
//  2. one final transaction deletes the old buckets, moves the new ones to
//     the top level and records schema 3.
//
// Until that last transaction the old buckets and schema 2 stay as they were.
var bucketMigrate3 = []byte("migrate3")

// migrateBatch bounds the records one migration transaction writes.
const migrateBatch = 10_000

// schemaBinaryJournal is the schema migrate brings a schema 2 file to,
// before buildIndexes brings it to schemaPackedPostings.
const schemaBinaryJournal = "3"

// schemaKeyedPostings is the schema whose journal indexes kept a key per
// (name, seq); buildIndexes packs them into chunks (postings.go).
const schemaKeyedPostings = "4"

// schemaPackedPostings is the schema whose tree bucket kept a key per
// stored hash; migrateTree brings it to schemaVersion.
const schemaPackedPostings = "5"

// schemaChunkedTree is the schema whose tree bucket kept every stored hash
// of tlog's, 16 to a key; migrateTree brings it to schemaVersion.
const schemaChunkedTree = "6"

// schemaKeyedBalances is the schema whose balances index kept a key per
// balance change, and whose holding records had no tail of them
// (balancetail.go). Its file is a schema 8 file as it stands: a key of one
// balance is still one, and a holding without a tail gets one from its next
// change. So the migration records the schema, and old records stay.
const schemaKeyedBalances = "7"

// schemaKeyedJournal is the schema whose journal kept a key per entry. Its
// file is a schema 9 file as it stands: a value of one record is read as
// that entry (journalchunk.go), and the entries after it go into chunks.
// So the migration records the schema, and old records stay.
const schemaKeyedJournal = "8"

// schemaHashedChunks is the schema whose journal chunks stored each
// entry's hash. Its file is a schema 10 file as it stands: a chunk of that
// form is read as it was (journalchunk.go), and the entries after it go
// into chunks without them. So the migration records the schema, and old
// chunks stay.
const schemaHashedChunks = "9"

// schemaKeyedIDs is the schema whose ids bucket held a record of every
// instruction id. Its file is a schema 11 file as it stands: its records
// answer for their ids before the id index does (apply.go, lookupID), the
// index covers its journal like any other, and ids decided after it go to
// the index. So the migration records the schema, and old records stay.
const schemaKeyedIDs = "10"

// schemaPlainHoldings is the schema whose holdings, holders, balances and
// journal postings kept a bbolt key a key. Open packs those buckets (kv.Pack, in openDB) of
// it and of every older schema; the rest of its file is a schema 12 file
// as it stands. A bucket says itself whether it is packed, so a crash
// after the schema is recorded and before they are packed leaves a file
// the next open packs.
const schemaPlainHoldings = "11"

// migrate brings a schema 2 to 11 state file to schemaVersion. It
// leaves other versions to openDB, except that it names a newer schema
// plainly.
func migrate(db *bolt.DB) error {
	if err := migrateToPackedPostings(db); err != nil {
		return err
	}
	if err := migrateTree(db); err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		if s := string(meta.Get(metaSchema)); s == schemaKeyedBalances || s == schemaKeyedJournal || s == schemaHashedChunks || s == schemaKeyedIDs || s == schemaPlainHoldings {
			return meta.Put(metaSchema, []byte(schemaVersion))
		}
		return nil
	})
}

// migrateTree brings a schema 5 or 6 file to schemaVersion. In the
// transaction that records it it drops the tree, whose stored hashes were a
// key each (5) or every one of tlog's (6), and openDB rebuilds it from the
// journal (buildTree), in bounded transactions that resume after a crash:
// the tree derives from the journal alone, so nothing is lost with it, and
// the roots are those of before. Of a schema 5 file it drops the history
// bucket too, whose balance changes the balances and supplies indexes hold.
func migrateTree(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		schema := string(meta.Get(metaSchema))
		if schema != schemaPackedPostings && schema != schemaChunkedTree {
			return nil
		}
		for _, name := range [][]byte{bucketTree, bucketHistory} {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return fmt.Errorf("drop the schema %s %s: %w", schema, name, err)
			}
		}
		if _, err := tx.CreateBucket(bucketTree); err != nil {
			return err
		}
		return meta.Put(metaSchema, []byte(schemaVersion))
	})
}

// migrateToPackedPostings brings a schema 2, 3 or 4 state file to schema 5.
func migrateToPackedPostings(db *bolt.DB) error {
	switch schema := fileSchema(db); {
	case schema == "2":
	case schema == schemaBinaryJournal:
		return buildIndexes(db, false)
	case schema == schemaKeyedPostings:
		return buildIndexes(db, true)
	case schema == "" || schema == schemaPackedPostings || schema == schemaChunkedTree || schema == schemaKeyedBalances ||
		schema == schemaKeyedJournal || schema == schemaHashedChunks || schema == schemaKeyedIDs || schema == schemaPlainHoldings ||
		schema == schemaVersion:
		return nil
	case newerSchema(schema):
		return fmt.Errorf("state schema %q is newer than this build's %q: run a newer release", schema, schemaVersion)
	default:
		return nil // openDB refuses it
	}
	for done := false; !done; {
		if err := db.Update(func(tx *bolt.Tx) (err error) {
			done, err = migrateJournalStep(tx, migrateBatch)
			return err
		}); err != nil {
			return fmt.Errorf("migrate journal to schema %s: %w", schemaBinaryJournal, err)
		}
	}
	for done := false; !done; {
		if err := db.Update(func(tx *bolt.Tx) (err error) {
			done, err = migrateIDsStep(tx, migrateBatch)
			return err
		}); err != nil {
			return fmt.Errorf("migrate ids to schema %s: %w", schemaBinaryJournal, err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		staging := tx.Bucket(bucketMigrate3)
		for _, name := range [][]byte{bucketJournal, bucketIDs} {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("drop schema 2 %s: %w", name, err)
			}
			if err := tx.MoveBucket(name, staging, nil); err != nil {
				return fmt.Errorf("install schema %s %s: %w", schemaBinaryJournal, name, err)
			}
		}
		if err := tx.DeleteBucket(bucketMigrate3); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, []byte(schemaBinaryJournal))
	}); err != nil {
		return err
	}
	return buildIndexes(db, false)
}

// migrateStaging returns the staging bucket's child name, creating both.
func migrateStaging(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	staging, err := tx.CreateBucketIfNotExists(bucketMigrate3)
	if err != nil {
		return nil, err
	}
	b, err := staging.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	b.FillPercent = appendFillPercent // written in key order
	return b, nil
}

// migrateJournalStep converts the next limit journal entries and reports
// whether none is left.
func migrateJournalStep(tx *bolt.Tx, limit int) (bool, error) {
	dst, err := migrateStaging(tx, bucketJournal)
	if err != nil {
		return false, err
	}
	var next uint64 = 1
	if k, _ := dst.Cursor().Last(); k != nil {
		next = binary.BigEndian.Uint64(k) + 1
	}
	c := tx.Bucket(bucketJournal).Cursor()
	n := 0
	for k, v := c.Seek(seqKey(next)); k != nil; k, v = c.Next() {
		if n == limit {
			return false, nil
		}
		n++
		rec, err := migrateJournalEntry(v)
		if err != nil {
			return false, fmt.Errorf("entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if err := dst.Put(k, rec); err != nil {
			return false, err
		}
	}
	return true, nil
}

// migrateJournalEntry converts one schema 2 journal entry, and checks that
// the new record renders the very bytes it had.
func migrateJournalEntry(old []byte) ([]byte, error) {
	var e JournalEntry
	decodeJSON(old, &e)
	hash, err1 := hex.DecodeString(e.Hash)
	prev, err2 := hex.DecodeString(e.PrevHash)
	if err1 != nil || err2 != nil || len(hash) != sha256.Size || len(prev) != sha256.Size {
		return nil, fmt.Errorf("hash or prev_hash is not 32 bytes of hex")
	}
	rec := journalRecord{
		version: HashV1, index: e.Index, time: e.Time, actor: e.Actor, status: e.Status, reasons: e.Reasons,
	}
	switch {
	case e.Reason == nil && len(e.Reasons) == 0:
	case e.Reason != nil && len(e.Reasons) > 0 && *e.Reason == e.Reasons[0]:
	case e.Reason == nil:
		rec.reasonForm = reasonNone
	default:
		rec.reasonForm, rec.reason = reasonExplicit, e.Reason
	}
	ins, decoded := decodeServedInstruction(e.Instruction)
	rec.instruction, rec.binary = servedInstructionForm(ins, decoded, e.Instruction)
	parties, symbols := names(e.Actor, ins)
	extra, ok := extraParties(e.Parties, parties)
	if decoded && ok && slices.Equal(symbols, e.Symbols) && slices.IsSorted(e.Parties) {
		rec.extra = extra
	} else {
		rec.namesExplicit, rec.parties, rec.symbols = true, e.Parties, e.Symbols
	}
	stored := append(appendJournalBody(nil, &rec), hash...)
	if got := encodeJSON(renderJournalEntry(e.Seq, [sha256.Size]byte(prev), stored)); !bytes.Equal(got, old) {
		return nil, fmt.Errorf("the new record renders %s, want %s", got, old)
	}
	return stored, nil
}

// migrateIDsStep converts the next limit id records, once the journal is
// migrated, and reports whether none is left.
func migrateIDsStep(tx *bolt.Tx, limit int) (bool, error) {
	dst, err := migrateStaging(tx, bucketIDs)
	if err != nil {
		return false, err
	}
	journal := tx.Bucket(bucketMigrate3).Bucket(bucketJournal)
	c := tx.Bucket(bucketIDs).Cursor()
	k, v := c.First()
	if last, _ := dst.Cursor().Last(); last != nil {
		if k, v = c.Seek(last); bytes.Equal(k, last) {
			k, v = c.Next()
		}
	}
	for n := 0; k != nil; k, v = c.Next() {
		if n == limit {
			return false, nil
		}
		n++
		rec, err := migrateIDRecord(journal, string(k), v)
		if err != nil {
			return false, fmt.Errorf("id %s: %w", k, err)
		}
		if err := dst.Put(k, encodeIDRecord(nil, &rec)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// migrateIDRecord converts a schema 2 id record: to the journal seq when the
// journal entry gives back its outcome byte for byte (and its body hash, or
// the hash is kept), else kept explicit.
func migrateIDRecord(journal *bolt.Bucket, id string, old []byte) (idRecord, error) {
	if len(old) <= 1+bodyHashSize || old[0] != tagID {
		return idRecord{}, fmt.Errorf("schema 2 id record: tag %q, length %d", firstByte(old), len(old))
	}
	var rec idRecord
	copy(rec.BodyHash[:], old[1:1+bodyHashSize])
	outcome := old[1+bodyHashSize:]
	if o, err := DecodeOutcome(outcome); err == nil && o.Seq != 0 && journal.Get(seqKey(o.Seq)) != nil {
		kvJournal := kv.WrapBucket(journal)
		if bytes.Equal(EncodeOutcome(journaledOutcome(kvJournal, id, o.Seq)), outcome) {
			rec.Seq = o.Seq
			rec.BodyServed = journaledBodyHash(kvJournal, o.Seq) == rec.BodyHash
			return rec, nil
		}
	}
	rec.Outcome = bytes.Clone(outcome)
	return rec, nil
}

// newerSchema reports whether schema names a version after this build's:
// a decimal number, compared as one ("10" follows "9").
func newerSchema(schema string) bool {
	n, err := strconv.Atoi(schema)
	current, _ := strconv.Atoi(schemaVersion)
	return err == nil && n > current
}
