package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"onepass/sync/wire"
)

// SetPolicy adds a policy version (numbered next) that applies from pv.ValidFrom.
func (h *Hub) SetPolicy(ctx context.Context, pv wire.PolicyVersion) (int64, error) {
	if pv.FeverC != 0 && (pv.FeverC < 35 || pv.FeverC > 42) {
		return 0, fmt.Errorf("hub: policy: fever_c %.1f outside 35–42 °C", pv.FeverC)
	}
	for name, d := range map[string]string{"status_max_age": pv.StatusMaxAge, "hard_max_age": pv.HardMaxAge} {
		if d == "" {
			continue
		}
		if v, err := time.ParseDuration(d); err != nil || v <= 0 {
			return 0, fmt.Errorf("hub: policy: %s %q is not a positive duration", name, d)
		}
	}
	if pv.AbsentStatus != "" && pv.AbsentStatus != "manual" && pv.AbsentStatus != "green" {
		return 0, fmt.Errorf("hub: policy: absent_status %q: want manual or green", pv.AbsentStatus)
	}
	if pv.ValidFrom.IsZero() {
		pv.ValidFrom = h.now()
	}
	pv.ValidFrom = pv.ValidFrom.UTC()
	err := h.streamTx(ctx, "policy", func(tx *dbTx) error {
		if err := tx.QueryRowContext(ctx, `UPDATE streams SET seq = seq + 1 WHERE name = 'policy' RETURNING seq`).Scan(&pv.Version); err != nil {
			return err
		}
		doc, err := json.Marshal(pv)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policy (version, doc) VALUES (?, ?)`, pv.Version, doc)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: policy: %w", err)
	}
	return pv.Version, nil
}

// policyDoc is the policy stream: the version in force now and every later one.
func (h *Hub) policyDoc(ctx context.Context) (wire.Policy, error) {
	p := wire.Policy{Header: wire.Header{V: wire.Major, Type: wire.TypePolicy}, Versions: []wire.PolicyVersion{}}
	rows, err := h.r.QueryContext(ctx, `SELECT doc FROM policy ORDER BY version`)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	now := h.now()
	var all []wire.PolicyVersion
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return p, err
		}
		var pv wire.PolicyVersion
		if err := json.Unmarshal(doc, &pv); err != nil {
			return p, err
		}
		all = append(all, pv)
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	// Keep the newest version already in force and everything after it.
	start := 0
	for i, pv := range all {
		if !pv.ValidFrom.After(now) {
			start = i
		}
	}
	if len(all) > 0 {
		p.Versions = all[start:]
		p.Version = all[len(all)-1].Version
	}
	p.IssuedAt = now.UTC()
	return p, nil
}
