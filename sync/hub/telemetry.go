package hub

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"onepass/sync/wire"
)

// ParseTelemetry reads the telemetry object of an upload: nil when there is none (absent or
// null), an error when it is too large, not a report, or fails wire.CheckTelemetry. Fields it does
// not know (a newer kiosk's) are ignored.
func ParseTelemetry(raw []byte) (*wire.Telemetry, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if len(raw) > wire.MaxTelemetryBytes {
		return nil, fmt.Errorf("telemetry: %d bytes, at most %d", len(raw), wire.MaxTelemetryBytes)
	}
	var t wire.Telemetry
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if err := wire.CheckTelemetry(t); err != nil {
		return nil, err
	}
	return &t, nil
}

// noteTelemetry keeps the report that came with an upload. A report that is malformed or cannot
// be stored is logged and dropped: it never costs the records beside it.
func (h *Hub) noteTelemetry(ctx context.Context, device string, raw []byte) {
	t, err := ParseTelemetry(raw)
	if err == nil && t != nil {
		err = h.ReportTelemetry(ctx, device, *t)
	}
	if err != nil && ctx.Err() == nil {
		h.log.Warn("hub: telemetry report ignored", "device", device, "err", err)
	}
}

// ReportTelemetry keeps t as the device's latest report (Devices shows it) and adds it to the
// device's history when Options.TelemetryEvery passed since the last entry or a part's state or
// the paper changed. The history is pruned to Options.TelemetryKeep and TelemetryRows as it grows.
func (h *Hub) ReportTelemetry(ctx context.Context, device string, t wire.Telemetry) error {
	if err := wire.CheckTelemetry(t); err != nil {
		return err
	}
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("hub: telemetry: %w", err)
	}
	now := wire.UnixMS(h.now())
	err = h.inTxAt(ctx, sql.LevelReadCommitted, func(tx *dbTx) error {
		var prev []byte
		err := tx.QueryRowContext(ctx, `SELECT telemetry FROM devices WHERE id = ?`, device).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("device %q is not enrolled", device)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET telemetry = ?, telemetry_at = ? WHERE id = ?`, doc, now, device); err != nil {
			return err
		}
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(received_at) FROM telemetry WHERE device = ?`, device).Scan(&last); err != nil {
			return err
		}
		if last.Valid && now-last.Int64 < h.opt.TelemetryEvery.Milliseconds() && !stateChanged(prev, t) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO telemetry (device, received_at, report) VALUES (?, ?, ?)
			ON CONFLICT (device, received_at) DO UPDATE SET report = excluded.report`, device, now, doc); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM telemetry WHERE device = ? AND received_at < ?`,
			device, now-h.opt.TelemetryKeep.Milliseconds()); err != nil {
			return err
		}
		// Past the row limit, the oldest go: those older than the TelemetryRows-th newest.
		_, err = tx.ExecContext(ctx, `DELETE FROM telemetry WHERE device = ? AND received_at <
			(SELECT received_at FROM telemetry WHERE device = ? ORDER BY received_at DESC LIMIT 1 OFFSET ?)`,
			device, device, h.opt.TelemetryRows-1)
		return err
	})
	if err != nil {
		return fmt.Errorf("hub: telemetry of %s: %w", device, err)
	}
	return nil
}

// stateChanged reports whether t differs from the stored report prev in what the dashboard
// colours: a part's state or the paper. Such a change goes into the history at once.
func stateChanged(prev []byte, t wire.Telemetry) bool {
	var p wire.Telemetry
	if prev == nil || json.Unmarshal(prev, &p) != nil {
		return true
	}
	if p.Paper != t.Paper || len(p.Parts) != len(t.Parts) {
		return true
	}
	for i := range p.Parts {
		if p.Parts[i].Part != t.Parts[i].Part || p.Parts[i].State != t.Parts[i].State {
			return true
		}
	}
	return false
}

// TelemetryHistory returns the device's kept reports received at or after since, oldest first.
func (h *Hub) TelemetryHistory(ctx context.Context, device string, since time.Time) ([]wire.Telemetry, error) {
	rows, err := h.r.QueryContext(ctx, `SELECT report FROM telemetry WHERE device = ? AND received_at >= ? ORDER BY received_at`,
		device, wire.UnixMS(since))
	if err != nil {
		return nil, fmt.Errorf("hub: telemetry history: %w", err)
	}
	defer rows.Close()
	var out []wire.Telemetry
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("hub: telemetry history: %w", err)
		}
		var t wire.Telemetry
		if err := json.Unmarshal(doc, &t); err != nil {
			return nil, fmt.Errorf("hub: telemetry history of %s: %w", device, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// PruneTelemetry removes history entries older than Options.TelemetryKeep, of every device (a
// device that went silent prunes nothing itself). Serve runs it hourly.
func (h *Hub) PruneTelemetry(ctx context.Context) (int, error) {
	res, err := h.w.ExecContext(ctx, `DELETE FROM telemetry WHERE received_at < ?`, wire.UnixMS(h.now().Add(-h.opt.TelemetryKeep)))
	if err != nil {
		return 0, fmt.Errorf("hub: prune telemetry: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
