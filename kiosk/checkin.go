package kiosk

import (
	"context"

	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// Method is how a visit identified the person; it is written to the visit log as is.
type Method string

// Methods of a visit. The lane joins card and code when both were shown.
const (
	MethodCard     Method = "card"
	MethodCode     Method = "code"
	MethodCardCode Method = "card+code"
	MethodTemp     Method = "temp"   // a fever with no identity
	MethodManual   Method = "manual" // a staff console's check (CheckManual)
)

// RecentVisits is the visit log read newest first (sync/store.Store).
type RecentVisits interface {
	Recent(ctx context.Context, n int) ([]store.Visit, error)
}

// CheckInPass is the visit an appointment code shown at this lane counts as its pass, "" when
// there is none. Only the pass on this lane's screen counts, or, once the result screen has gone
// while the service picker is still up, the newest visit in the log when it is a pass decided at
// this lane: the newest visit may be another lane's, a staff console's manual check, or the
// previous citizen's refusal.
func CheckInPass(ctx context.Context, v View, log RecentVisits) string {
	if v.State == PhaseShowing && v.Outcome == policy.Pass {
		return v.PassID
	}
	if log == nil {
		return ""
	}
	vs, err := log.Recent(ctx, 1)
	if err != nil || len(vs) != 1 {
		return ""
	}
	n := vs[0]
	if policy.Outcome(n.Outcome) != policy.Pass || n.Lane != v.Lane || Method(n.Method) == MethodManual {
		return ""
	}
	return n.ID
}
