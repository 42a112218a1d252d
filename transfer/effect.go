package transfer

import (
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// one is the embedded leverage of a plain product.
var one = decimal.NewFromInt(1)

// Effect decides ins, submitted by actor at now, against v. It returns the
// writes to commit when the instruction is accepted, or every reason it was
// refused (and a nil Delta). It is a pure function of its arguments.
//
// Every rule is evaluated on its own: no refusal stops another rule from
// being checked, so the reasons are every rule that refuses, each once (the
// first refusal of each rule and code). Only facts steer the evaluation: a
// movement that cannot be written (a missing party or instrument, a
// malformed amount, a balance or unfrozen amount short of it) is left out,
// in every evaluation alike, while one a rule forbids is still made in the
// delta, so the rules after it (account leverage) judge the state it would
// leave. A refused instruction's delta is never committed.
func Effect(v View, actor string, ins Instruction, now time.Time) (*Delta, []eligibility.Reason) {
	return effectOnly(v, actor, ins, now, "")
}

// effectOnly is Effect keeping only the refusals of rule (all when rule is
// empty): the instruction as that rule alone decides it.
func effectOnly(v View, actor string, ins Instruction, now time.Time, rule string) (*Delta, []eligibility.Reason) {
	return effectIn(nil, v, actor, ins, now, rule)
}

// effectIn is effectOnly over s's memory (nil: its own).
func effectIn(s *Scratch, v View, actor string, ins Instruction, now time.Time, rule string) (*Delta, []eligibility.Reason) {
	if r := Authorize(v, actor, ins); r != nil {
		// Authorization is a gate, not a rule among others: an actor who may
		// not submit the instruction learns nothing more about it.
		if rule != "" && r.Rule != rule {
			return nil, nil
		}
		return nil, []eligibility.Reason{*r}
	}
	var e *effect
	if s != nil {
		e = s.effect(s.delta(v), actor, ins, now, v.Rulebook(), rule)
	} else {
		e = &effect{d: NewDelta(v), actor: actor, ins: ins, now: now, rb: v.Rulebook(), only: rule}
	}
	e.lots = e.lotsBuf[:0]
	e.apply()
	// Every rule is judged on its own (a refused move is still drafted),
	// so the account, position and investment rules run whatever else
	// refused. A close-out is the lender's remedy for an account already
	// short of margin: it never raises the loan or the requirement, and
	// the account's leverage must not stop it.
	if ins.Type != TypeCloseOut {
		e.checkAccounts()
	}
	e.checkPositions()
	e.checkInvestments()
	if len(e.reasons) > 0 {
		e.reasons = uniqueReasons(e.reasons)
		// The first reason is the one a client shows: order them by the codes'
		// stated precedence, the same on every node.
		eligibility.SortReasons(e.reasons)
		return nil, e.reasons
	}
	return e.d, nil
}

type effect struct {
	d       *Delta
	actor   string
	ins     Instruction
	now     time.Time
	rb      *eligibility.Rulebook
	reasons []eligibility.Reason
	// only keeps the refusals of this rule alone ("": all).
	only string
	// touched marks parties whose positions changed in a way that can raise
	// their leverage; their accounts are measured once, after every leg.
	// Made on first use: most instructions touch none.
	touched map[string]bool
	// pending are the investments the instruction makes under investment
	// limits, checked after every leg (investment.go).
	pending []pendingInvestment
	// lots is scratch for the lots a debit takes, which the credit that
	// follows copies (addLot) before the next debit reuses it; lotsBuf
	// holds the first few without an allocation of their own.
	lots    []Lot
	lotsBuf [2]Lot
}

func (e *effect) markTouched(party string) {
	if e.touched == nil {
		e.touched = map[string]bool{}
	}
	e.touched[party] = true
}

func (e *effect) refuse(code eligibility.Code, rule, format string, args ...any) {
	if e.only != "" && rule != e.only {
		return
	}
	e.reasons = append(e.reasons, eligibility.NewReason(code, rule, fmt.Sprintf(format, args...)))
}

// refuseAll records rs and reports whether there were any, whatever rule
// the evaluation keeps, so the caller's course is the same in every
// evaluation.
func (e *effect) refuseAll(rs []eligibility.Reason) bool {
	for _, r := range rs {
		if e.only == "" || r.Rule == e.only {
			e.reasons = append(e.reasons, r)
		}
	}
	return len(rs) > 0
}

func (e *effect) party(id string) (Party, bool) {
	p, ok := e.d.Party(id)
	if !ok {
		e.refuse(eligibility.CodeUnknownParty, "party.exists", "party %s is not registered", id)
	}
	return p, ok
}

func (e *effect) instrument(symbol string) (Instrument, bool) {
	in, ok := e.d.Instrument(symbol)
	if !ok {
		e.refuse(eligibility.CodeUnknownInstrument, "instrument.exists", "instrument %s does not exist", symbol)
	}
	return in, ok
}

func (e *effect) amount(field string, a *Amount, decimals int32) (decimal.Decimal, bool) {
	if a == nil {
		e.refuse(eligibility.CodeBadAmount, "amount.format", "%s is required", field)
		return decimal.Decimal{}, false
	}
	d, err := ParsePositive(string(*a), decimals)
	if err != nil {
		e.refuse(eligibility.CodeBadAmount, "amount.format", "%s %q: must be a positive plain decimal with at most %d fraction digits", field, string(*a), decimals)
		return decimal.Decimal{}, false
	}
	return d, true
}

func (e *effect) apply() {
	switch e.ins.Type {
	case TypeRegisterParty:
		e.registerParty()
	case TypeUpdateParty:
		e.updateParty()
	case TypeCreateInstrument:
		e.createInstrument()
	case TypeMint:
		e.mint()
	case TypeBurn:
		e.burn()
	case TypeTransfer, TypeForceTransfer:
		for i, l := range e.ins.Legs {
			e.leg(i, l, e.ins.Type == TypeForceTransfer)
		}
	case TypeFreeze, TypeUnfreeze:
		e.freeze(e.ins.Type == TypeFreeze)
	case TypePause, TypeUnpause:
		if in, ok := e.instrument(e.ins.Symbol); ok {
			in.Paused = e.ins.Type == TypePause
			e.d.putInstrument(in)
		}
	case TypeRecover:
		e.recover()
	case TypeSetPrice:
		e.setPrice()
	case TypeBorrow:
		e.borrow()
	case TypeRepay:
		e.repay()
	case TypeDistribute:
		e.distribute()
	case TypeSplit:
		e.split()
	case TypeCloseOut:
		e.closeOut()
	case TypeUpdateInstrument:
		e.updateInstrument()
	case TypeApprove, TypeCancel:
		// The ledger decides the approval or cancellation of an instruction
		// it holds pending; one that reaches Effect names none.
		e.refuse(eligibility.CodeInvalidInstruction, "dual_control.pending", "instruction %s is not pending approval", e.ins.InstructionID)
	case TypeSetRulebook:
		rb, err := eligibility.Parse([]byte(e.ins.Rulebook))
		if err != nil {
			e.refuse(eligibility.CodeRulebookInvalid, "rulebook.parse", "the rulebook does not parse: %v", err)
			return
		}
		e.setRulebook(rb)
	default:
		e.refuse(eligibility.CodeInvalidInstruction, "instruction.type", "unknown instruction type %q", e.ins.Type)
	}
}

func (e *effect) registerParty() {
	s := e.ins.Party
	if _, exists := e.d.Party(s.ID); exists {
		e.refuse(eligibility.CodeAlreadyExists, "party.unique", "party %s is already registered", s.ID)
		return
	}
	p := Party{ID: s.ID, Role: s.Role, Status: s.Status, Jurisdiction: s.Jurisdiction, KYCExpiresAt: s.KYCExpiresAt, Custodian: s.Custodian, CreatedAt: e.now}
	p.AnnualIncome, p.NetWorth = baseFigure(s.AnnualIncome), baseFigure(s.NetWorth)
	if s.Role == eligibility.RoleInvestor {
		c, ok := e.party(s.Custodian)
		if ok && c.Role != eligibility.RoleCustodian {
			e.refuse(eligibility.CodeInvalidInstruction, "party.custodian", "%s is a %s, not a custodian", c.ID, c.Role)
			return
		}
	}
	e.d.putParty(p)
}

func (e *effect) updateParty() {
	p, ok := e.party(e.ins.PartyID)
	if !ok {
		return
	}
	if p.Role != eligibility.RoleInvestor && (e.ins.Status != nil || e.ins.Jurisdiction != nil || e.ins.KYCExpiresAt != nil) {
		e.refuse(eligibility.CodeInvalidInstruction, "party.update", "only investors have status, jurisdiction and KYC; %s is a %s", p.ID, p.Role)
		return
	}
	if e.ins.AffiliateOf != nil && !e.setAffiliateOf(&p) {
		return
	}
	wasNonAccredited := p.NonAccredited()
	if e.ins.Status != nil {
		p.Status = *e.ins.Status
	}
	if e.ins.Jurisdiction != nil {
		p.Jurisdiction = *e.ins.Jurisdiction
	}
	if e.ins.KYCExpiresAt != nil {
		t := *e.ins.KYCExpiresAt
		p.KYCExpiresAt = &t
	}
	if e.ins.AnnualIncome != nil {
		p.AnnualIncome = baseFigure(e.ins.AnnualIncome)
	}
	if e.ins.NetWorth != nil {
		p.NetWorth = baseFigure(e.ins.NetWorth)
	}
	e.d.putParty(p)
	if wasNonAccredited == p.NonAccredited() {
		return
	}
	// The non-accredited holder counts of every instrument the party holds follow its status.
	step := 1
	if wasNonAccredited {
		step = -1
	}
	for _, h := range e.d.PartyHoldings(p.ID) {
		if h.IsHolder() {
			in, _ := e.d.Instrument(h.Symbol)
			in.NonAccreditedHolders += step
			e.d.putInstrument(in)
		}
	}
}

func (e *effect) createInstrument() {
	s := e.ins.Instrument
	if _, exists := e.d.Instrument(s.Symbol); exists {
		e.refuse(eligibility.CodeAlreadyExists, "instrument.unique", "instrument %s already exists", s.Symbol)
		return
	}
	issuer, ok := e.party(s.Issuer)
	if !ok {
		return
	}
	if issuer.Role != eligibility.RoleIssuer {
		e.refuse(eligibility.CodeInvalidInstruction, "instrument.issuer", "%s is a %s, not an issuer", issuer.ID, issuer.Role)
		return
	}
	attrs, err := s.Attributes.Attributes()
	if err != nil {
		e.refuse(eligibility.CodeInvalidInstruction, "instrument.attributes", "%v", err)
		return
	}
	offering := e.now
	if s.OfferingDate != nil {
		if s.OfferingDate.After(e.now) {
			e.refuse(eligibility.CodeInvalidInstruction, "instrument.offering_date", "offering_date %s is in the future", s.OfferingDate.Format(time.RFC3339))
			return
		}
		offering = *s.OfferingDate
	}
	in := Instrument{
		Symbol: s.Symbol, Name: s.Name, Issuer: s.Issuer, Decimals: s.Decimals, Regime: s.Regime,
		OfferingDate: offering, Attributes: attrs, Supply: decimal.Zero, CreatedAt: e.now,
		Currency: s.Currency, Listed: s.Listed,
	}
	if s.MaxSupply != nil {
		m, ok := e.amount("instrument.max_supply", s.MaxSupply, s.Decimals)
		if !ok {
			return
		}
		in.MaxSupply = &m
	}
	c := e.rb.Classify(attrs)
	in.Class, in.Regulator, in.Category, in.ClassificationReasons = c.Class, c.Regulator, c.Category, c.Reasons
	if in.Currency != "" && !in.IsCash() {
		e.refuse(eligibility.CodeInvalidInstruction, "instrument.currency", "%s is a %s; only cash instruments name a currency", in.Symbol, in.Class)
		return
	}
	if e.refuseAll(e.rb.CheckCreate(in.Product())) {
		return
	}
	e.d.putInstrument(in)
}

// supplyChange resolves what mint and burn share: the instrument, the party
// the units go to or come from, and the amount, refusing each that is missing
// or malformed. ok is false when any of them is.
func (e *effect) supplyChange(partyID string) (in Instrument, p Party, amt decimal.Decimal, ok bool) {
	in, okIn := e.instrument(e.ins.Symbol)
	p, okParty := e.party(partyID)
	if !okIn || !okParty {
		return in, p, amt, false
	}
	amt, ok = e.amount("amount", e.ins.Amount, in.Decimals)
	return in, p, amt, ok
}

// addSupply adds amt (negative for a burn) to the instrument's supply. It
// reads the instrument again: the credit or debit before it may have changed
// the holder counts.
func (e *effect) addSupply(symbol string, amt decimal.Decimal) {
	in, _ := e.d.Instrument(symbol)
	in.Supply = in.Supply.Add(amt)
	e.d.putInstrument(in)
}

func (e *effect) mint() {
	in, to, amt, ok := e.supplyChange(e.ins.To)
	if !ok {
		return
	}
	if in.Paused {
		e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused; unpause it to mint", in.Symbol)
	}
	if in.MaxSupply != nil && in.Supply.Add(amt).GreaterThan(*in.MaxSupply) {
		e.refuse(eligibility.CodeSupplyCap, "instrument.max_supply", "minting %s would bring %s to %s, above its max_supply %s", amt, in.Symbol, in.Supply.Add(amt), *in.MaxSupply)
	}
	acquired := e.now
	if e.ins.AcquiredAt != nil {
		a := *e.ins.AcquiredAt
		if a.After(e.now) || a.Before(in.OfferingDate) {
			e.refuse(eligibility.CodeInvalidInstruction, "mint.acquired_at", "acquired_at %s must lie between the offering date %s and now", a.Format(time.RFC3339), in.OfferingDate.Format(time.RFC3339))
			return
		}
		acquired = a
	}
	if e.ins.Import {
		e.canReceiveImport(to)
	} else {
		e.canReceiveFrom(&to, &in, true)
	}
	e.credit(&to, &in, []Lot{{Amount: fixed.From(amt), AcquiredAt: acquired}})
	e.addSupply(in.Symbol, amt)
	if e.ins.Import {
		// A holding brought in is not a sale in the offering: it takes no
		// purchaser's place and counts against no investment limit.
		return
	}
	e.notePurchase(&to, &in)
	e.invest(&to, &in, amt, e.ins.Consideration)
}

func (e *effect) burn() {
	in, from, amt, ok := e.supplyChange(e.ins.From)
	if !ok {
		return
	}
	if in.Paused {
		e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused; unpause it to burn", in.Symbol)
	}
	if from.ID != in.Issuer && e.ins.LegalReference == "" {
		e.refuse(eligibility.CodeNotAuthorized, "burn.legal_reference", "%s's units are not the issuer's own; burning them needs a legal_reference, as force_transfer does", from.ID)
	}
	if !e.canSend(&from, &in, fixed.From(amt)) {
		return
	}
	e.debit(&from, &in, fixed.From(amt))
	e.addSupply(in.Symbol, amt.Neg())
}

// leg checks and applies one transfer leg. A refused leg records its reasons
// and moves nothing; the other legs are still checked so the caller learns
// every reason at once, and the whole instruction is refused.
func (e *effect) leg(i int, l Leg, forced bool) {
	in, ok1 := e.instrument(l.Symbol)
	from, ok2 := e.party(l.From)
	to, ok3 := e.party(l.To)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	// The balance arithmetic runs on fixed decimals: no allocation.
	amt, err := ParsePositiveFixed(string(l.Amount), in.Decimals)
	if err != nil {
		e.amount(fmt.Sprintf("legs[%d].amount", i), &l.Amount, in.Decimals) // names the leg in the reason
		return
	}
	if in.Paused {
		e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused; no holding of it moves until the issuer unpauses it", in.Symbol)
	}
	if !forced {
		// A lapse never traps assets: the rulebook lets a holder send back to the issuer.
		e.refuseAll(e.rb.CheckSenderKYC(from.Eligibility(), to.Eligibility(), in.Product(), e.now))
	}
	feasible := e.canSend(&from, &in, amt)
	if feasible {
		e.checkLocked(&from, &to, &in, amt, forced)
	}
	e.canReceiveFrom(&to, &in, from.ID == in.Issuer)
	if !feasible {
		return
	}
	if !forced {
		e.checkAffiliateSale(&from, &to, &in, amt)
	}
	taken := e.debit(&from, &in, amt)
	e.credit(&to, &in, receivedLots(&from, &to, &in, taken, forced, e.now))
	if from.ID == in.Issuer {
		e.notePurchase(&to, &in)
	}
	if !forced && from.ID == in.Issuer {
		e.invest(&to, &in, amt.Decimal(), l.Consideration)
	}
}

// checkLocked refuses moving amt of from's lots (oldest first) while they
// are still inside their holding period, unless the rulebook grants an
// exception. Every locked lot is judged; Effect keeps one reason per rule.
func (e *effect) checkLocked(from, to *Party, in *Instrument, amt fixed.Decimal, forced bool) {
	period := e.rb.HoldingPeriod(in.Product())
	if period <= 0 {
		return
	}
	h, _ := e.d.Holding(from.ID, in.Symbol)
	_, lots := takeLots(nil, h.Lots, amt, e.lots[:0]) // only looked at
	e.lots = lots[:0]
	for _, l := range lots {
		if !l.AcquiredAt.Add(period).After(e.now) {
			continue
		}
		rs := e.rb.CheckLockedSend(eligibility.LockedSend{
			Now: e.now, AcquiredAt: l.AcquiredAt, From: from.Eligibility(), To: to.Eligibility(),
			Product: in.Product(), Forced: forced,
		})
		e.refuseAll(rs)
	}
}

// canSend checks that amt of in may leave from's account at all. It
// reports whether the debit can be written (the unfrozen balance covers
// it), a fact, whichever rules refuse.
func (e *effect) canSend(from *Party, in *Instrument, amt fixed.Decimal) bool {
	if from.Closed {
		e.refuse(eligibility.CodeAccountClosed, "account.closed", "%s was closed by a recover; it sends nothing", from.ID)
	}
	if from.Frozen {
		e.refuse(eligibility.CodeAccountFrozen, "account.frozen", "%s is frozen; nothing leaves its account until it is unfrozen", from.ID)
	}
	h, _ := e.d.Holding(from.ID, in.Symbol)
	if h.Available().GreaterThanOrEqual(amt) {
		return true
	}
	if h.Balance.GreaterThanOrEqual(amt) {
		e.refuse(eligibility.CodeAccountFrozen, "account.frozen_amount", "%s holds %s %s but %s of it is frozen; %s is available", from.ID, h.Balance, in.Symbol, h.Frozen, h.Available())
	} else {
		e.refuse(eligibility.CodeInsufficientBalance, "account.balance", "%s holds %s %s (%s available), less than %s", from.ID, h.Balance, in.Symbol, h.Available(), amt)
	}
	return false
}

// canReceive checks that to may come to hold (more of) in, recording every
// refusal; the credit can always be written.
func (e *effect) canReceive(to *Party, in *Instrument) { e.canReceiveFrom(to, in, false) }

// canReceiveFrom is canReceive, told whether the units come from the
// issuer (a purchase in the offering).
func (e *effect) canReceiveFrom(to *Party, in *Instrument, fromIssuer bool) {
	if to.Closed {
		e.refuse(eligibility.CodeAccountClosed, "account.closed", "%s was closed by a recover; it receives nothing", to.ID)
	}
	if to.Frozen {
		e.refuse(eligibility.CodeAccountFrozen, "account.frozen", "%s is frozen; it receives nothing until it is unfrozen", to.ID)
	}
	h, _ := e.d.Holding(to.ID, in.Symbol)
	r := eligibility.Receive{
		Now: e.now, To: to.Eligibility(), Product: in.Product(),
		HoldersAfter: in.HolderCount, NonAccreditedHoldersAfter: in.NonAccreditedHolders,
		FromIssuer: fromIssuer, PurchasersAfter: in.NonAccreditedPurchasers,
	}
	if fromIssuer && to.NonAccredited() && !h.Purchased && e.rb.CountsPurchasers(in.Product()) {
		r.NewPurchaser = true
		r.PurchasersAfter++
	}
	if !h.IsHolder() {
		// Holder counts matter only to a new holder: only then is the
		// issuer's treasury looked up, to leave it out.
		r.NewHolder = true
		r.HoldersAfter = HoldersOfRecord(e.d, *in) + 1
		if to.NonAccredited() {
			r.NonAccreditedHoldersAfter++
		}
	}
	e.refuseAll(e.rb.CheckReceive(r))
}

func (e *effect) debit(from *Party, in *Instrument, amt fixed.Decimal) []Lot {
	h, _ := e.d.Holding(from.ID, in.Symbol)
	rest, taken := takeLots(e.d.lots, h.Lots, amt, e.lots[:0])
	e.lots = taken[:0]
	h.Party, h.Symbol = from.ID, in.Symbol
	h.Balance = h.Balance.Sub(amt)
	h.Lots = seasonLots(e.d.lots, rest, e.rb.HoldingPeriod(in.Product()), e.now)
	e.d.putHolding(h)
	e.touch(from.ID, in)
	return taken
}

func (e *effect) credit(to *Party, in *Instrument, lots []Lot) {
	h, _ := e.d.Holding(to.ID, in.Symbol)
	h.Party, h.Symbol = to.ID, in.Symbol
	if h.Frozen.IsZero() {
		h.Frozen = fixed.Zero
	}
	for _, l := range lots {
		h.Balance = h.Balance.Add(l.Amount)
		h.Lots = addLot(e.d.lots, h.Lots, l)
	}
	h.Lots = seasonLots(e.d.lots, h.Lots, e.rb.HoldingPeriod(in.Product()), e.now)
	e.d.putHolding(h)
	e.touch(to.ID, in)
}

// touch notes a party whose account leverage must be measured: an account with
// no loan holding only products within their caps cannot exceed its
// requirement (equity is the full value), so only loans and leveraged
// products need the measurement.
func (e *effect) touch(party string, in *Instrument) {
	if e.touched[party] {
		return
	}
	if in.Attributes.EmbeddedLeverage.GreaterThan(one) || len(e.d.Loans(party)) > 0 || len(e.d.base.Loans(party)) > 0 {
		e.markTouched(party)
	}
}

func (e *effect) checkAccounts() {
	if len(e.touched) == 0 {
		return
	}
	parties := make([]string, 0, len(e.touched))
	for p, ok := range e.touched {
		if ok {
			parties = append(parties, p)
		}
	}
	sort.Strings(parties)
	for _, id := range parties {
		p, ok := e.d.Party(id)
		if !ok || p.Role != eligibility.RoleInvestor {
			continue
		}
		before, after := AccountOf(e.d.base, p), AccountOf(e.d, p)
		e.refuseAll(e.rb.CheckAccount(before, after))
	}
}

// AccountOf gathers a party's positions, marks and loans for leverage.
func AccountOf(v View, p Party) eligibility.Account {
	a := eligibility.Account{Party: p.Eligibility(), Loan: decimal.Zero}
	base := v.Rulebook().BaseCurrency()
	for _, h := range v.PartyHoldings(p.ID) {
		if h.Balance.Sign() <= 0 {
			continue
		}
		in, ok := v.Instrument(h.Symbol)
		if !ok {
			fail("holding of unknown instrument %s", h.Symbol)
		}
		pos := eligibility.Position{
			Symbol: in.Symbol, Class: in.Class, Underlying: in.Attributes.Underlying, FXMajor: in.Attributes.FXMajor,
			Quantity: h.Balance.Decimal(), EmbeddedLeverage: in.Attributes.EmbeddedLeverage,
		}
		pos.Price, pos.Priced = priceOf(v, in, base)
		a.Positions = append(a.Positions, pos)
	}
	for _, l := range v.Loans(p.ID) {
		cash, _ := v.Instrument(l.Cash)
		rate, ok := priceOf(v, cash, base)
		if !ok {
			a.UnpricedLoans = append(a.UnpricedLoans, l.Cash)
			continue
		}
		a.Loan = a.Loan.Add(l.Amount.Mul(rate))
	}
	return a
}

func (e *effect) freeze(freeze bool) {
	p, ok := e.party(e.ins.PartyID)
	if !ok {
		return
	}
	if e.ins.Symbol == "" {
		if !e.mayChangeFreeze(p.ID, "", p.Frozen, p.FrozenBy) {
			return
		}
		p.FrozenBy = freezeOwner(freeze, p.Frozen, p.FrozenBy, e.actor)
		p.Frozen = freeze
		e.d.putParty(p)
		return
	}
	in, ok := e.instrument(e.ins.Symbol)
	if !ok {
		return
	}
	h, _ := e.d.Holding(p.ID, in.Symbol)
	h.Party, h.Symbol = p.ID, in.Symbol
	if !e.mayChangeFreeze(p.ID, in.Symbol, h.Frozen.Sign() > 0, h.FrozenBy) {
		return
	}
	wasFrozen := h.Frozen.Sign() > 0
	switch {
	case e.ins.Amount == nil && freeze:
		h.Frozen = h.Balance
	case e.ins.Amount == nil:
		h.Frozen = fixed.Zero
	default:
		damt, ok := e.amount("amount", e.ins.Amount, in.Decimals)
		if !ok {
			return
		}
		amt := fixed.From(damt)
		if freeze {
			if h.Frozen.Add(amt).GreaterThan(h.Balance) {
				e.refuse(eligibility.CodeInsufficientBalance, "account.balance", "%s holds %s %s with %s already frozen; cannot freeze %s more", p.ID, h.Balance, in.Symbol, h.Frozen, amt)
				return
			}
			h.Frozen = h.Frozen.Add(amt)
		} else {
			if amt.GreaterThan(h.Frozen) {
				e.refuse(eligibility.CodeInvalidInstruction, "account.unfreeze", "only %s %s of %s is frozen", h.Frozen, in.Symbol, p.ID)
				return
			}
			h.Frozen = h.Frozen.Sub(amt)
		}
	}
	h.FrozenBy = freezeOwner(h.Frozen.Sign() > 0, wasFrozen, h.FrozenBy, e.actor)
	e.d.putHolding(h)
}

func (e *effect) recover() {
	from, ok1 := e.party(e.ins.From)
	to, ok2 := e.party(e.ins.To)
	if !ok1 || !ok2 {
		return
	}
	if from.Frozen {
		e.refuse(eligibility.CodeAccountFrozen, "account.frozen", "%s is frozen; unfreeze it before recovering its holdings", from.ID)
	}
	if from.Closed {
		e.refuse(eligibility.CodeAccountClosed, "account.closed", "%s is already closed; its holdings moved when it was recovered", from.ID)
		return
	}
	holdings := e.d.PartyHoldings(from.ID)
	for _, h := range holdings {
		in, _ := e.d.Instrument(h.Symbol)
		if !h.Frozen.IsZero() {
			e.refuse(eligibility.CodeAccountFrozen, "account.frozen_amount", "%s of %s's %s is frozen; unfreeze it before recovering", h.Frozen, from.ID, h.Symbol)
		}
		if in.Paused {
			e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused; no holding of it moves until the issuer unpauses it", in.Symbol)
		}
		e.canReceive(&to, &in)
	}
	for _, h := range holdings {
		if !h.Frozen.IsZero() {
			continue // cannot move: the frozen amount would exceed what is left
		}
		in, _ := e.d.Instrument(h.Symbol)
		taken := e.debit(&from, &in, h.Balance)
		// The holding period runs from the original acquisition: the owner did not change.
		e.credit(&to, &in, taken)
	}
	for _, l := range e.d.Loans(from.ID) {
		moved := l
		old, _ := e.loan(to.ID, l.Cash, l.Lender)
		moved.Party, moved.Amount = to.ID, old.Amount.Add(l.Amount)
		e.d.putLoan(moved)
		l.Amount = decimal.Zero
		e.d.putLoan(l)
		e.markTouched(to.ID)
	}
	// The lost account stays on record, closed: its keys may be in the wrong hands.
	from, _ = e.d.Party(from.ID)
	from.Closed = true
	e.d.putParty(from)
}

func (e *effect) loan(party, cash, lender string) (Loan, bool) {
	for _, l := range e.d.Loans(party) {
		if l.Cash == cash && l.Lender == lender {
			return l, true
		}
	}
	return Loan{Party: party, Cash: cash, Lender: lender, Amount: decimal.Zero}, false
}

func (e *effect) setPrice() {
	in, ok := e.instrument(e.ins.Symbol)
	if !ok {
		return
	}
	if base := e.rb.BaseCurrency(); in.IsBaseCash(base) {
		e.refuse(eligibility.CodeInvalidInstruction, "price.cash", "%s is cash in the base currency %s; its price is always 1", in.Symbol, base)
		return
	}
	p, ok := e.amount("price", e.ins.Price, MaxDecimals)
	if !ok {
		return
	}
	e.d.putPrice(Price{Symbol: in.Symbol, Price: p, Time: e.now})
}

// cashLeg resolves the party, lender and cash instrument of borrow and repay.
func (e *effect) cashLeg() (party, lender Party, cash Instrument, amt decimal.Decimal, ok bool) {
	lenderID := e.ins.Lender
	if lenderID == "" {
		lenderID = e.actor
	}
	party, ok1 := e.party(e.ins.PartyID)
	lender, ok2 := e.party(lenderID)
	cash, ok3 := e.instrument(e.ins.CashSymbol)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	if !cash.IsCash() {
		e.refuse(eligibility.CodeInvalidInstruction, "loan.cash", "%s is not a cash instrument", cash.Symbol)
		return
	}
	if lender.Role != eligibility.RoleCustodian && lender.Role != eligibility.RoleOperator {
		e.refuse(eligibility.CodeInvalidInstruction, "loan.lender", "%s is a %s; margin loans come from a custodian", lender.ID, lender.Role)
		return
	}
	if cash.Paused {
		e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused", cash.Symbol)
		return
	}
	amt, ok = e.amount("amount", e.ins.Amount, cash.Decimals)
	return party, lender, cash, amt, ok
}

func (e *effect) borrow() {
	party, lender, cash, amt, ok := e.cashLeg()
	if !ok {
		return
	}
	feasible := e.canSend(&lender, &cash, fixed.From(amt))
	e.canReceive(&party, &cash)
	if !feasible {
		return
	}
	e.debit(&lender, &cash, fixed.From(amt))
	e.credit(&party, &cash, []Lot{{Amount: fixed.From(amt), AcquiredAt: e.now}})
	l, _ := e.loan(party.ID, cash.Symbol, lender.ID)
	l.Amount = l.Amount.Add(amt)
	e.d.putLoan(l)
	e.markTouched(party.ID)
}

func (e *effect) repay() {
	party, lender, cash, amt, ok := e.cashLeg()
	if !ok {
		return
	}
	l, _ := e.loan(party.ID, cash.Symbol, lender.ID)
	if l.Amount.LessThan(amt) {
		e.refuse(eligibility.CodeNoLoan, "loan.balance", "%s owes %s %s to %s, less than %s", party.ID, l.Amount, cash.Symbol, lender.ID, amt)
		return
	}
	if !e.canSend(&party, &cash, fixed.From(amt)) {
		return
	}
	e.debit(&party, &cash, fixed.From(amt))
	e.credit(&lender, &cash, []Lot{{Amount: fixed.From(amt), AcquiredAt: e.now}})
	l.Amount = l.Amount.Sub(amt)
	e.d.putLoan(l)
}

func (e *effect) distribute() {
	in, ok1 := e.instrument(e.ins.Symbol)
	cash, ok2 := e.instrument(e.ins.CashSymbol)
	if !ok1 || !ok2 {
		return
	}
	if !cash.IsCash() {
		e.refuse(eligibility.CodeInvalidInstruction, "distribute.cash", "%s is not a cash instrument", cash.Symbol)
		return
	}
	if cash.Paused {
		e.refuse(eligibility.CodeInstrumentPaused, "instrument.paused", "%s is paused", cash.Symbol)
		return
	}
	perUnit, ok := e.amount("amount_per_unit", e.ins.AmountPerUnit, MaxDecimals)
	if !ok {
		return
	}
	issuer, ok := e.party(in.Issuer)
	if !ok {
		return
	}
	type payout struct {
		party  string
		amount decimal.Decimal
	}
	var payouts []payout
	total := decimal.Zero
	for _, id := range e.d.Holders(in.Symbol) {
		if id == in.Issuer {
			continue // treasury units earn nothing
		}
		h, _ := e.d.Holding(id, in.Symbol)
		// Pro-rata, rounded down to the cash scale; the remainder stays with the issuer.
		amt := h.Balance.Mul(perUnit).RoundDown(cash.Decimals)
		if amt.Sign() > 0 {
			payouts = append(payouts, payout{id, amt})
			total = total.Add(amt)
		}
	}
	if total.IsZero() {
		e.refuse(eligibility.CodeInvalidInstruction, "distribute.amount", "the distribution pays nothing: no holder's entitlement reaches one unit of %s", cash.Symbol)
		return
	}
	if !e.canSend(&issuer, &cash, fixed.From(total)) {
		return
	}
	e.debit(&issuer, &cash, fixed.From(total))
	// A distribution pays the holders of record; a frozen or KYC-lapsed holder's
	// entitlement is still credited (it cannot move it until cleared).
	for _, p := range payouts {
		to, _ := e.d.Party(p.party)
		e.credit(&to, &cash, []Lot{{Amount: fixed.From(p.amount), AcquiredAt: e.now}})
	}
}

func (e *effect) split() {
	in, ok := e.instrument(e.ins.Symbol)
	if !ok {
		return
	}
	ratio, ok := e.amount("ratio", e.ins.Ratio, MaxDecimals)
	if !ok {
		return
	}
	if in.IsCash() {
		e.refuse(eligibility.CodeInvalidInstruction, "split.cash", "%s is cash and cannot split", in.Symbol)
		return
	}
	supply := decimal.Zero
	for _, id := range e.d.Holders(in.Symbol) {
		h, _ := e.d.Holding(id, in.Symbol)
		// Fractions below the instrument's scale are dropped (no cash in lieu);
		// the newest lot absorbs the rounding so lots still sum to the balance.
		h.Balance = fixed.From(h.Balance.Mul(ratio).RoundDown(in.Decimals))
		h.Frozen = fixed.From(h.Frozen.Mul(ratio).RoundDown(in.Decimals))
		lots := make([]Lot, 0, len(h.Lots))
		sum := fixed.Zero
		for _, l := range h.Lots {
			l.Amount = fixed.From(l.Amount.Mul(ratio).RoundDown(in.Decimals))
			sum = sum.Add(l.Amount)
			lots = append(lots, l)
		}
		if n := len(lots); n > 0 {
			lots[n-1].Amount = lots[n-1].Amount.Add(h.Balance.Sub(sum))
		}
		h.Lots = dropEmptyLots(lots)
		e.d.putHolding(h)
		supply = supply.Add(h.Balance.Decimal())
	}
	in, _ = e.d.Instrument(in.Symbol)
	in.Supply = supply
	if in.MaxSupply != nil {
		m := in.MaxSupply.Mul(ratio).RoundDown(in.Decimals)
		in.MaxSupply = &m
	}
	e.d.putInstrument(in)
}

func dropEmptyLots(lots []Lot) []Lot {
	out := lots[:0]
	for _, l := range lots {
		if l.Amount.Sign() > 0 {
			out = append(out, l)
		}
	}
	return out
}

// setRulebook puts rb in force at once, or, with effective_at, schedules it
// for the first batch whose time is at or after that instant. A date not
// after this batch's time is refused: such a rulebook would take force at
// once, which an instruction without effective_at says plainly.
func (e *effect) setRulebook(rb *eligibility.Rulebook) {
	at := e.ins.EffectiveAt
	if at == nil {
		e.d.rulebook = rb
		return
	}
	if !at.After(e.now) {
		e.refuse(eligibility.CodeInvalidInstruction, "set_rulebook.effective_at",
			"effective_at %s is not after the time of this batch, %s; omit it to put the rulebook in force now",
			at.UTC().Format(time.RFC3339Nano), e.now.UTC().Format(time.RFC3339Nano))
		return
	}
	e.d.scheduled = &ScheduledRulebook{Rulebook: rb, EffectiveAt: at.UTC()}
}
