package ledger

// Bucket names: the whole bbolt schema. Keys join parts with a 0x00 byte,
// which no id or symbol may contain, so prefix scans never mix two parties.
var (
	bucketMeta        = []byte("meta")        // fixed keys below
	bucketParties     = []byte("parties")     // party id -> transfer.Party (JSON)
	bucketInstruments = []byte("instruments") // symbol -> transfer.Instrument (JSON)
	bucketHoldings    = []byte("holdings")    // party 0 symbol -> transfer.Holding (JSON)
	bucketHolders     = []byte("holders")     // symbol 0 party -> empty: parties with a positive balance
	bucketHistory     = []byte("history")     // seq(8, big-endian) -> []balanceChange made by that journal entry
	bucketLoans       = []byte("loans")       // party 0 cash 0 lender -> transfer.Loan (JSON)
	bucketPrices      = []byte("prices")      // symbol -> transfer.Price (JSON)
	bucketIDs         = []byte("ids")         // instruction id -> idRecord (JSON)
	bucketJournal     = []byte("journal")     // seq(8, big-endian) -> Entry (JSON)
	bucketKeys        = []byte("keys")        // sha256(key) hex -> party id
	bucketNodes       = []byte("nodes")       // node id -> NodeInfo (JSON)
)

// allBuckets in name order: the order the full state hash reads them in.
var allBuckets = [][]byte{
	bucketHistory, bucketHolders, bucketHoldings, bucketIDs, bucketInstruments, bucketJournal,
	bucketKeys, bucketLoans, bucketMeta, bucketNodes, bucketParties, bucketPrices,
}

// stateBuckets hold the business state: what an instruction's effect changes.
// A rejected instruction changes none of them (it only grows the journal).
var stateBuckets = [][]byte{
	bucketHolders, bucketHoldings, bucketInstruments, bucketLoans, bucketParties, bucketPrices,
}

// Keys of the meta bucket.
var (
	metaAppliedIndex = []byte("applied_index") // 8 bytes big-endian
	metaAppliedTerm  = []byte("applied_term")  // 8 bytes big-endian
	metaLastTime     = []byte("last_time")     // RFC 3339 nano
	metaJournalSeq   = []byte("journal_seq")   // 8 bytes big-endian
	metaJournalHead  = []byte("journal_head")  // hex sha256
	metaRulebook     = []byte("rulebook")      // YAML text of the rulebook in force; absent: the embedded default
	metaSchema       = []byte("schema")        // schema version
)

// schemaVersion is bumped when the layout changes; Open refuses other versions.
const schemaVersion = "1"

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
