package engine

import "irm/dsl"

// PENDING(dsl merge): replaced by dsl.Indicator.FirstSeen.
type firstSeenInfo struct{ Days int }

func firstSeenOf(ind *dsl.Indicator) *firstSeenInfo { return nil }
