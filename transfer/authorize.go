package transfer

import (
	"fmt"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Authorize decides whether actor may submit ins, from the roles and
// relationships in v. The API calls it before proposing (403) and the state
// machine again at apply (422), because state may change in between. A target
// that does not exist is left to Effect, which names it.
func Authorize(v View, actor string, ins Instruction) *eligibility.Reason {
	p, ok := v.Party(actor)
	if !ok {
		return notAuthorized(ins.Type, "%s is not a registered party", actor)
	}
	if p.Closed {
		return notAuthorized(ins.Type, "%s was closed by a recover", actor)
	}
	if p.Role == eligibility.RoleOperator {
		if ins.Type == TypeBorrow || ins.Type == TypeRepay || ins.Type == TypeCloseOut {
			if ins.Lender == "" {
				return notAuthorized(ins.Type, "the operator must name the lender of a %s", ins.Type)
			}
		}
		return nil
	}
	custodianOf := func(id string) bool {
		q, ok := v.Party(id)
		return !ok || (q.Role == eligibility.RoleInvestor && q.Custodian == actor)
	}
	issuerOf := func(symbol string) bool {
		in, ok := v.Instrument(symbol)
		return !ok || in.Issuer == actor
	}
	switch ins.Type {
	case TypeRegisterParty:
		if p.Role == eligibility.RoleCustodian && ins.Party != nil &&
			ins.Party.Role == eligibility.RoleInvestor && ins.Party.Custodian == actor {
			return nil
		}
		return notAuthorized(ins.Type, "only the operator, or a custodian for investors in its own custody, may register parties")
	case TypeUpdateParty:
		if ins.AffiliateOf != nil {
			return authorizeAffiliateOf(v, p, ins)
		}
		if p.Role == eligibility.RoleCustodian && custodianOf(ins.PartyID) {
			return nil
		}
		return notAuthorized(ins.Type, "only the operator or %s's custodian may update it", ins.PartyID)
	case TypeCreateInstrument:
		if p.Role == eligibility.RoleIssuer && ins.Instrument != nil && ins.Instrument.Issuer == actor {
			return nil
		}
		return notAuthorized(ins.Type, "an issuer may create instruments only for itself")
	case TypeMint, TypeBurn, TypePause, TypeUnpause, TypeSplit, TypeDistribute, TypeUpdateInstrument:
		if ins.Import {
			// Bringing a register in bypasses receive rules: the operator's
			// act alone (API.md, Users' tools and access).
			return notAuthorized(ins.Type, "only the operator may mint with import: true")
		}
		if ins.Type == TypeBurn && ins.LegalReference == "" && p.Role == eligibility.RoleIssuer && ins.From != actor {
			return notAuthorized(ins.Type, "burning %s's units needs a legal_reference", ins.From)
		}
		if p.Role == eligibility.RoleIssuer && issuerOf(ins.Symbol) {
			return nil
		}
		return notAuthorized(ins.Type, "only the operator or the issuer of %s may %s it", ins.Symbol, ins.Type)
	case TypeTransfer:
		for i, l := range ins.Legs {
			if l.From == actor || (p.Role == eligibility.RoleCustodian && custodianOf(l.From)) {
				continue
			}
			return notAuthorized(ins.Type, "leg %d moves %s's holding; only %s, its custodian or the operator may", i, l.From, l.From)
		}
		return nil
	case TypeFreeze, TypeUnfreeze:
		if frozen, owner := freezeOwnerOf(v, ins); frozen {
			if r := freezeOwnerReason(v, actor, ins.PartyID, ins.Symbol, frozen, owner, ins.Type); r != nil {
				return r
			}
		}
		if p.Role == eligibility.RoleCustodian && custodianOf(ins.PartyID) {
			return nil
		}
		if p.Role == eligibility.RoleIssuer && ins.Symbol != "" && issuerOf(ins.Symbol) {
			return nil
		}
		return notAuthorized(ins.Type, "only the operator, %s's custodian, or the issuer for its own symbol may %s", ins.PartyID, ins.Type)
	case TypeCancel:
		// Its proposer may withdraw a pending instruction; the ledger, which
		// holds it, checks that the actor is.
		return nil
	case TypeSetPrice:
		if p.Role == eligibility.RoleOracle {
			return nil
		}
		return notAuthorized(ins.Type, "only the price oracle or the operator may set prices")
	case TypeBorrow, TypeRepay:
		if p.Role == eligibility.RoleCustodian && custodianOf(ins.PartyID) && (ins.Lender == "" || ins.Lender == actor) {
			return nil
		}
		return notAuthorized(ins.Type, "only %s's custodian (as the lender) or the operator may %s", ins.PartyID, ins.Type)
	case TypeCloseOut:
		// The lender acts for itself: whether it lent to the party is
		// Effect's question (NO_LOAN), not a relationship of roles.
		if p.Role == eligibility.RoleCustodian && (ins.Lender == "" || ins.Lender == actor) {
			return nil
		}
		return notAuthorized(ins.Type, "only a lender to %s (as itself) or the operator may close out", ins.PartyID)
	default: // force_transfer, recover, set_rulebook, approve
		return notAuthorized(ins.Type, "only the operator may %s", ins.Type)
	}
}

func notAuthorized(t Type, format string, args ...any) *eligibility.Reason {
	r := eligibility.NewReason(eligibility.CodeNotAuthorized, "authorization."+string(t), fmt.Sprintf(format, args...))
	return &r
}

// MayEverSubmit reports whether a party of role could submit some instruction
// of type t at all; the API answers 403 early for combinations that never can.
func MayEverSubmit(role eligibility.Role, t Type) bool {
	switch role {
	case eligibility.RoleOperator:
		return true
	case eligibility.RoleIssuer:
		switch t {
		case TypeCreateInstrument, TypeMint, TypeBurn, TypePause, TypeUnpause, TypeSplit, TypeDistribute, TypeTransfer, TypeFreeze, TypeUnfreeze,
			TypeUpdateInstrument, TypeUpdateParty, TypeCancel:
			return true
		}
	case eligibility.RoleCustodian:
		switch t {
		case TypeRegisterParty, TypeUpdateParty, TypeTransfer, TypeFreeze, TypeUnfreeze, TypeBorrow, TypeRepay, TypeCloseOut, TypeCancel:
			return true
		}
	case eligibility.RoleInvestor:
		return t == TypeTransfer || t == TypeCancel
	case eligibility.RoleOracle:
		return t == TypeSetPrice || t == TypeTransfer || t == TypeCancel
	}
	return false
}

// authorizeAffiliateOf decides an update_party that sets affiliate_of: the
// operator (returned earlier) or the issuer of every symbol it adds or
// removes, and only that field, since an issuer attests control of its own
// company and nothing else about the party.
func authorizeAffiliateOf(v View, p Party, ins Instruction) *eligibility.Reason {
	if p.Role != eligibility.RoleIssuer || ins.Status != nil || ins.Jurisdiction != nil || ins.KYCExpiresAt != nil {
		return notAuthorized(ins.Type, "only the operator, or an issuer for its own symbols, may set affiliate_of")
	}
	target, ok := v.Party(ins.PartyID)
	if !ok {
		return nil // Effect names the unknown party
	}
	for _, s := range affiliateChanges(target, *ins.AffiliateOf) {
		if in, ok := v.Instrument(s); ok && in.Issuer != p.ID {
			return notAuthorized(ins.Type, "%s is issued by %s; only its issuer or the operator may change who is its affiliate", s, in.Issuer)
		}
	}
	return nil
}
