package transfer

// EffectOnly is Effect keeping only the refusals of one rule, for the
// property that every rule is evaluated on its own.
var EffectOnly = effectOnly
