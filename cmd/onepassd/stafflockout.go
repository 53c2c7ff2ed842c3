package main

import (
	"context"

	"onepass/sync/store"
	"onepass/ui"
)

// loginAttempts keeps the staff console's failed-login counters in the kiosk database (table
// staff_lockout), so a restart does not unlock a locked ID or address.
type loginAttempts struct{ db *store.Store }

func (l loginAttempts) LoadLoginAttempts(ctx context.Context) ([]ui.LoginAttempt, error) {
	rows, err := l.db.StaffLockouts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.LoginAttempt, len(rows))
	for i, r := range rows {
		out[i] = ui.LoginAttempt{Key: r.Key, Failed: r.Failed, Until: r.Until, Streak: r.Streak, Last: r.Last}
	}
	return out, nil
}

func (l loginAttempts) SaveLoginAttempts(ctx context.Context, put []ui.LoginAttempt, del []string) error {
	rows := make([]store.StaffLockout, len(put))
	for i, r := range put {
		rows[i] = store.StaffLockout{Key: r.Key, Failed: r.Failed, Until: r.Until, Streak: r.Streak, Last: r.Last}
	}
	return l.db.SaveStaffLockouts(ctx, rows, del)
}
