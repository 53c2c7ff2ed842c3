package hub

import (
	"context"
	"fmt"
	"time"

	"onepass/sync/wire"
)

// Device is one enrolled device as the admin sees it.
type Device struct {
	ID           string    `json:"id"`
	Hall         string    `json:"hall"`
	Lanes        int       `json:"lanes"`
	EnrolledAt   time.Time `json:"enrolled_at"`
	CertExpires  time.Time `json:"cert_expires"`
	LastSeen     time.Time `json:"last_seen"`
	OutboxDepth  int64     `json:"outbox_depth"`
	OutboxOldest time.Time `json:"outbox_oldest,omitzero"` // the oldest waiting visit: the device's upload lag
	Software     string    `json:"software,omitempty"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	// Telemetry is the device's latest report (sent with its pushes), nil before the first.
	Telemetry   *wire.Telemetry `json:"telemetry,omitempty"`
	TelemetryAt time.Time       `json:"telemetry_at,omitzero"` // when the hub received it, on the hub's clock
}

// Devices lists every enrolled device.
func (h *Hub) Devices(ctx context.Context) ([]Device, error) {
	rows, err := h.r.QueryContext(ctx, `SELECT id, hall, lanes, enrolled_at, cert_expires, last_seen, outbox_depth, outbox_oldest, software, revoked_at
		FROM devices ORDER BY enrolled_at, id`)
	if err != nil {
		return nil, fmt.Errorf("hub: devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var en, ce, ls, oo, rv int64
		if err := rows.Scan(&d.ID, &d.Hall, &d.Lanes, &en, &ce, &ls, &d.OutboxDepth, &oo, &d.Software, &rv); err != nil {
			return nil, fmt.Errorf("hub: devices: %w", err)
		}
		d.EnrolledAt, d.CertExpires, d.LastSeen, d.OutboxOldest, d.RevokedAt = wire.FromUnixMS(en), wire.FromUnixMS(ce), wire.FromUnixMS(ls), wire.FromUnixMS(oo), wire.FromUnixMS(rv)
		out = append(out, d)
	}
	return out, rows.Err()
}

// RevokeDevice refuses the device's certificate from its next request on.
func (h *Hub) RevokeDevice(ctx context.Context, id string) error {
	res, err := h.w.ExecContext(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, wire.UnixMS(h.now()), id)
	if err != nil {
		return fmt.Errorf("hub: revoke device: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("hub: revoke device: %q is not an enrolled, unrevoked device", id)
	}
	return nil
}
