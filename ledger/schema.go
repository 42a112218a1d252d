package ledger

// Bucket names: the whole bbolt schema. Keys join parts with a 0x00 byte,
// which no id or symbol may contain, so prefix scans never mix two parties.
// Values marked (binary) use the record layouts below; (JSON) values are
// encoding/json.
var (
	bucketMeta        = []byte("meta")        // fixed keys below
	bucketParties     = []byte("parties")     // party id -> party record (binary)
	bucketInstruments = []byte("instruments") // symbol -> instrument record (binary)
	bucketHoldings    = []byte("holdings")    // party 0 symbol -> holding record (binary); since schema 12 packed, many keys to a bbolt value (kv/packed.go)
	bucketHolders     = []byte("holders")     // symbol 0 party -> present: parties with a positive balance; packed since schema 12
	// seq(8, big-endian) -> history record (binary): balances changed by
	// that journal entry. Schemas 3 to 5 only: the balances and supplies
	// indexes hold the same; the migration to schema 6 drops it.
	bucketHistory     = []byte("history")
	bucketLoans       = []byte("loans")       // party 0 cash 0 lender -> loan record (binary)
	bucketPrices      = []byte("prices")      // symbol -> price record (binary)
	bucketIDs         = []byte("ids")         // instruction id -> id record (binary): since schema 11 only of an id whose journal entry does not give its body hash back
	bucketJournal     = []byte("journal")     // seq(8, big-endian) -> journal chunk: the entries from that seq on (journalchunk.go); or journal record: that entry (schemas 3 to 8)
	bucketKeys        = []byte("keys")        // sha256(key) hex -> party id
	bucketKeyInfo     = []byte("keyinfo")     // key id (KeyID) -> key record (binary)
	bucketPartyKeys   = []byte("partykeys")   // party 0 key id -> present
	bucketNodes       = []byte("nodes")       // node id -> NodeInfo (JSON)
	bucketCorpActions = []byte("corpactions") // record-date corporate actions, their queues and lines (corpaction.go)
	bucketCorpTree    = []byte("corptree")    // action seq(8) stored-hash index(8) -> hash: the Merkle trees of actions' lines (corpaction.go)
	bucketTree        = []byte("tree")        // {0} -> the last block's 0-15 leaf hashes; tier(1) chunk(8, big-endian) -> up to 16 32-byte roots of level 4·tier: the journal's Merkle tree (merkle.go)
	// party 0 symbol 0 time(8, big-endian Unix nanoseconds, sign bit
	// flipped) -> investment record (binary): what a party invested under an
	// investment limit (investment.go). Open creates it in older files.
	bucketInvestments = []byte("investments")
	bucketPending     = []byte("pending") // instruction id -> pendingRecord (JSON): an instruction waiting for its approval (dualcontrol.go)

	// Indexes (index.go), derived from the journal and the balance history
	// and written in the same transaction, so reads cost their answer.
	bucketJournalParty  = []byte("journal_party")  // party 0 first seq(8) -> posting chunk: entries serving the party
	bucketJournalSymbol = []byte("journal_symbol") // symbol 0 first seq(8) -> posting chunk: entries serving the symbol
	bucketBalances      = []byte("balances")       // symbol 0 party 0 seq(8) -> balance record: the balance after that entry; or balance chunk: the balances after that entry and later ones (balancetail.go)
	bucketSupplies      = []byte("supplies")       // symbol 0 seq(8) -> balance chunk: the supplies after that entry and later ones, supplyChunk of them but in a symbol's last (index.go); or balance record: the supply after that entry (schemas 4 to 9)

	// The history of the terms a control book at a seq reads (books_terms.go),
	// written in the transaction of the entry that changed them. Open
	// creates them empty in older files.
	bucketMaxSupplyHistory = []byte("max_supply_history") // symbol 0 seq(8) -> authorized record: max_supply after that entry
	bucketStatusHistory    = []byte("status_history")     // party 0 seq(8) -> status record: the party's status after that entry
)

// Binary records (schema 3, codec.go). A record opens with a tag byte naming
// its kind; fields follow in the order listed, with no names and no padding:
//
//	uvarint, varint  encoding/binary's variable-length integers
//	string           uvarint length, then the bytes
//	bool             one byte, 0 or 1
//	time             varint Unix seconds, uvarint nanoseconds; always UTC
//	decimal          uvarint header scale<<2 | kind, the value being
//	                 coefficient × 10^-scale; kind 0: varint coefficient;
//	                 kind 1 (2): uvarint length and the big-endian magnitude of
//	                 a positive (negative) coefficient beyond int64. Canonical:
//	                 an integer has scale 0, otherwise the coefficient has no
//	                 trailing zero, so equal values are equal bytes.
//	X?               bool present, then X when true
//	optional fields  after the fixed fields, zero or more of (uvarint field
//	                 number, value), numbers increasing, each written only
//	                 when its value is not the zero value (codec.go, Opt). A
//	                 record without them holds the zero values. Numbers are
//	                 never reused; each record lists its own below.
//
//	party       'P' role, status, jurisdiction, kyc_expires_at time?, custodian,
//	            frozen bool, created_at time                  (id: the key);
//	            optional fields 1 annual_income decimal, 2 net_worth decimal,
//	            10 affiliate_of (uvarint n, n strings, sorted),
//	            11 closed bool, 12 frozen_by string
//	instrument  'N' name, issuer, decimals varint, max_supply decimal?, regime,
//	            offering_date time, underlying, payoff, embedded_leverage
//	            decimal, expiry_days varint, economic_purpose, event_topic,
//	            flags uvarint (1 counterparty_is_platform, 2
//	            outcome_controllable, 4 fx_major, 8 perpetual), class, regulator, category,
//	            uvarint n+1 then n classification_reasons (0: null), paused
//	            bool, supply decimal, holder_count varint,
//	            non_accredited_holders varint, created_at time (symbol: the key);
//	            optional fields 1 currency string, 2 listed bool,
//	            10 non_accredited_purchasers uvarint
//	holding     'H' balance decimal, frozen decimal, uvarint n, n lots of
//	            (amount decimal, acquired_at time)     (party, symbol: the key)
//	            optional: 10 frozen_by string, 11 sales (uvarint n, n of
//	            (amount decimal, time)): an affiliate's recent sales, 12
//	            purchased bool: a non-accredited purchaser from the issuer,
//	            13 recent (uvarint n+1, n points of (seq uvarint, balance
//	            decimal), seqs rising): the balance changes the balances
//	            index has not taken yet; present when the index holds a
//	            key of the holding (balancetail.go)
//	loan        'L' amount decimal                (party, cash, lender: the key)
//	investment  'W' value decimal, in the base currency: the sum of the
//	            party's investments in the symbol at that time
//	                                        (party, symbol, time: the key)
//	price       'R' price decimal, time time                  (symbol: the key)
//	history     'B' uvarint n, n changes of (symbol, party, before decimal,
//	            after decimal) (schemas 3 to 5)
//	authorized  'A' max_supply decimal? (absent: no cap): an instrument's
//	            max_supply after the entry of the key's seq
//	            (max_supply_history; seq 0: before its first change)
//	status      'S' status string: a party's status after the entry of the
//	            key's seq (status_history; seq 0: before its first change)
//	balance     'V' decimal: a balance or supply as it stood after the
//	            entry of the key's seq (balances, supplies)
//	balance chunk 'C' uvarint n >= 1, n points of (seq uvarint, balance
//	            decimal): a holding's balances, or a symbol's supplies,
//	            after each of n entries, the first the key's seq, seqs
//	            rising (balances, supplies)
//	id          'I' uvarint seq: the journal entry whose status, index, seq
//	            and reasons are the outcome Apply returned for it
//	            (EncodeOutcome gives the same bytes again for a repeat), and
//	            whose actor and served instruction are the body first seen
//	            with the id; 'H' 32-byte sha256(actor 0 body), uvarint seq,
//	            for a body its entry serves compacted; 'O' the body hash,
//	            then the outcome JSON, for an outcome the journal does not
//	            hold
//	key         'K' key hash (hex), party, created_at time?, expires_at
//	            time?, revoked bool, revoked_at time?        (key id: the key)
//	journal     'J' hash_version byte (1 or 2), index uvarint, time, actor,
//	            status byte (0 accepted, 1 rejected, 2 then the status
//	            string), uvarint n then n reasons of (code, rule, message,
//	            erc1066), reason byte (0: the first reason, or none without
//	            reasons; 1: none; 2: then the reason), instruction byte (0:
//	            then uvarint length and transfer.AppendInstruction's binary
//	            encoding; 1: then the served JSON text as a string), names
//	            byte (0: then uvarint n and n parties beyond those the
//	            instruction names, sorted; 1: then the served parties and
//	            symbols, each as uvarint n and n strings; 2: as 0, then
//	            uvarint n >= 1 and n symbols beyond those the instruction
//	            names, sorted: the symbols a recover moved); optional
//	            field 1 written_off (uvarint n >= 1, then n of (party,
//	            lender, cash_symbol, amount decimal)), written only when a
//	            close_out wrote off a loan; then the entry's 32-byte hash,
//	            after the optional fields. The seq is the key; prev_hash is the
//	            hash of the record before. Served parties and symbols under
//	            names 0 and 2 are names(actor, instruction), plus the extra
//	            parties and symbols.
//	            Records with hash_version 2 use only the first form of each
//	            choice their served fields allow, so the body (the record
//	            less its hash) is a function of the served entry
//	            (ComputeHash rebuilds it); hash_version 1 records, migrated
//	            from schema 2, use whichever renders their JSON exactly.
//	journal chunk 'g', the 32-byte hash of the entry before seq key (zeros
//	            for seq 1), then n >= 1 of (uvarint length, journal record
//	            less its hash; or, for an entry whose index and time are
//	            the entry's before it in the chunk, 'j', its hash version,
//	            then the record after its time, less its hash): the
//	            entries of seqs key, key+1, … key+n-1, within 996 bytes
//	            unless n is 1 (journalchunk.go). Schema 9
//	            wrote 'G', then n >= 1 of (uvarint length, journal record),
//	            and schemas 3 to 8 a journal record under each entry's seq:
//	            schema 10 reads both as they stand.
//
// Other strings are as written. Schema 1 stored these records as JSON;
// schema 2 the journal entries as JSON and id records with the outcome JSON.

// allBuckets in name order: the order the full state hash reads them in.
var allBuckets = [][]byte{
	bucketBalances, bucketCorpActions, bucketCorpTree, bucketHolders, bucketHoldings, bucketIDs, bucketInstruments,
	bucketInvestments, bucketJournal, bucketJournalParty, bucketJournalSymbol, bucketKeyInfo, bucketKeys, bucketLoans,
	bucketMaxSupplyHistory,
	bucketMeta, bucketNodes, bucketParties, bucketPartyKeys, bucketPending, bucketPrices,
	bucketStatusHistory,
	bucketSupplies, bucketTree,
}

// packedBuckets keep their keys many to a bbolt value (kv/packed.go, since
// schema 12): those whose keys a commit rewrites at random, a page each
// when kept a key each. Open packs them in older files.
var packedBuckets = [][]byte{bucketBalances, bucketHolders, bucketHoldings, bucketJournalParty, bucketJournalSymbol}

// stateBuckets hold the business state: what an instruction's effect changes.
// A rejected instruction changes none of them (it only grows the journal).
var stateBuckets = [][]byte{
	bucketHolders, bucketHoldings, bucketInstruments, bucketInvestments, bucketLoans, bucketParties, bucketPrices,
}

// The pending bucket is not business state: like the journal and the ids,
// it records how instructions were decided. An approve refused because
// the held instruction is refused still closes it.

// Keys of the meta bucket.
var (
	metaAppliedIndex = []byte("applied_index") // 8 bytes big-endian
	metaAppliedTerm  = []byte("applied_term")  // 8 bytes big-endian
	metaLastTime     = []byte("last_time")     // RFC 3339 nano
	metaJournalSeq   = []byte("journal_seq")   // 8 bytes big-endian
	metaJournalHead  = []byte("journal_head")  // hex sha256 of the last journal entry
	metaRulebook     = []byte("rulebook")      // YAML text of the rulebook in force; absent: the embedded default
	metaSchema       = []byte("schema")        // schema version
	// A rulebook set to take force later (schedule.go); both or neither.
	metaScheduledRulebook = []byte("rulebook_scheduled")    // YAML text
	metaScheduledAt       = []byte("rulebook_effective_at") // RFC 3339 nano: the first batch time it is in force at
	metaIndexSeq          = []byte("index_seq")             // 8 bytes big-endian: the seq the indexes are built to, while Open builds them (schema 3 or 4)
)

// schemaVersion is bumped when the layout changes; Open refuses other versions.
// 2: binary records (above) instead of JSON for everything but the journal,
// keys and nodes. 3: binary journal records, id records that point into the
// journal; Open migrates a schema 2 file (migrate.go). 4: the journal
// indexes by party and symbol, and balances and supplies by seq; Open builds
// them in a schema 3 file (index.go). 5: the journal indexes packed, a
// chunk of seqs per key (postings.go); Open rebuilds them in a schema 4 file.
// 6: the tree's stored hashes in chunks of 16, and no history bucket; Open
// rebuilds the tree of a schema 5 file and drops its history. 7: the tree
// keeps only the roots of whole subtrees of 16, 256… entries (merkle.go);
// Open rebuilds the tree of a schema 5 or 6 file. 8: a holding's recent
// balance changes in its record, the balances index taking them a chunk at
// a time (balancetail.go); a schema 7 file is one as it stands. 9: the
// journal's entries in chunks, a key for each (journalchunk.go); a schema 7
// or 8 file is one as it stands, its keys of one record each read as they
// were. 10: the journal's chunks without their entries' hashes, which a
// reader recomputes (journalchunk.go), and the supplies in chunks of
// supplyChunk changes (index.go); a schema 7, 8 or 9 file is one as it
// stands, its older values read as they were. 11: no record in the ids
// bucket for an id whose journal entry serves its body as it came (nearly
// every id): an index in memory finds the id's entries, built from the
// journal at open (idindex.go); a schema 7 to 10 file is one as it stands,
// its records of the ids bucket answering first. 12: the holdings, holders,
// balances and journal postings buckets packed, a run of keys to a bbolt
// value (kv/packed.go, packedBuckets); Open packs them in a schema 7 to 11
// file.
const schemaVersion = "12"

func join(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// present is the value of index entries whose key is the data: bbolt may
// return an empty value as nil, which reads as absent.
var present = []byte{1}
