package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"onepass/signing"
	"onepass/sync/wire"
)

// AddIssuer adds an issuer to the trust list, or a key to an issuer already there (the other
// fields are then replaced by the new ones when given), and publishes a new root-signed list.
func (h *Hub) AddIssuer(ctx context.Context, iss signing.Issuer) (int64, error) {
	if iss.ID == "" || len(iss.ID) > 64 {
		return 0, errors.New("hub: issuer: id must be 1–64 characters")
	}
	for _, c := range iss.Classes {
		if c < 1 || c > 3 {
			return 0, fmt.Errorf("hub: issuer: class %d: want 1 phone, 2 printed, 3 proxy", c)
		}
	}
	for i, k := range iss.Keys {
		if k.Alg != signing.EdDSA && k.Alg != signing.ES256 && k.Alg != signing.SM2SM3 {
			return 0, fmt.Errorf("hub: issuer key %d: alg %q: want EdDSA, ES256 or SM2-SM3", i, k.Alg)
		}
		if len(k.PublicKey) == 0 {
			return 0, fmt.Errorf("hub: issuer key %d: no public key", i)
		}
		if !k.NotAfter.After(k.NotBefore) {
			return 0, fmt.Errorf("hub: issuer key %d: not_after must be after not_before", i)
		}
		iss.Keys[i].KID = signing.KID(k.PublicKey)
		iss.Keys[i].NotBefore, iss.Keys[i].NotAfter = k.NotBefore.UTC(), k.NotAfter.UTC()
	}
	if iss.Binding == (signing.BindParams{}) {
		iss.Binding = signing.DefaultBind
	}
	var seq int64
	err := h.streamTx(ctx, "trust", func(tx *dbTx) error {
		var raw []byte
		err := tx.QueryRowContext(ctx, `SELECT entry FROM issuers WHERE id = ? AND revoked_at = 0`, iss.ID).Scan(&raw)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			var old signing.Issuer
			if err := json.Unmarshal(raw, &old); err != nil {
				return err
			}
			for _, k := range old.Keys {
				if !slices.ContainsFunc(iss.Keys, func(n signing.IssuerKey) bool { return string(n.KID) == string(k.KID) }) {
					iss.Keys = append(iss.Keys, k)
				}
			}
			if iss.Name == "" {
				iss.Name = old.Name
			}
			if iss.Region == "" {
				iss.Region = old.Region
			}
			if len(iss.Classes) == 0 {
				iss.Classes = old.Classes
			}
		}
		if len(iss.Classes) == 0 {
			iss.Classes = []int{1, 2, 3}
		}
		entry, err := json.Marshal(iss)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO issuers (id, entry, revoked_at) VALUES (?, ?, 0)
			ON CONFLICT (id) DO UPDATE SET entry = excluded.entry, revoked_at = 0`, iss.ID, entry); err != nil {
			return err
		}
		seq, err = h.publishTrust(ctx, tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: add issuer: %w", err)
	}
	return seq, nil
}

// RevokeIssuer removes an issuer from the trust list (kid empty), or one of its keys.
func (h *Hub) RevokeIssuer(ctx context.Context, id string, kid []byte) (int64, error) {
	var seq int64
	err := h.streamTx(ctx, "trust", func(tx *dbTx) error {
		var raw []byte
		if err := tx.QueryRowContext(ctx, `SELECT entry FROM issuers WHERE id = ? AND revoked_at = 0`, id).Scan(&raw); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("issuer %q is not in the trust list", id)
			}
			return err
		}
		if len(kid) == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE issuers SET revoked_at = ? WHERE id = ?`, wire.UnixMS(h.now()), id); err != nil {
				return err
			}
		} else {
			var iss signing.Issuer
			if err := json.Unmarshal(raw, &iss); err != nil {
				return err
			}
			n := len(iss.Keys)
			iss.Keys = slices.DeleteFunc(iss.Keys, func(k signing.IssuerKey) bool { return string(k.KID) == string(kid) })
			if len(iss.Keys) == n {
				return fmt.Errorf("issuer %q has no key %x", id, kid)
			}
			entry, _ := json.Marshal(iss)
			if _, err := tx.ExecContext(ctx, `UPDATE issuers SET entry = ? WHERE id = ?`, entry, id); err != nil {
				return err
			}
		}
		var err error
		seq, err = h.publishTrust(ctx, tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: revoke issuer: %w", err)
	}
	return seq, nil
}

// publishTrust signs the current issuers as the next trust list with the root key.
func (h *Hub) publishTrust(ctx context.Context, tx *dbTx) (int64, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE streams SET seq = seq + 1 WHERE name = 'trust' RETURNING seq`).Scan(&seq); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT entry FROM issuers WHERE revoked_at = 0 ORDER BY id`)
	if err != nil {
		return 0, err
	}
	tl := signing.TrustList{Version: 1, Seq: seq, IssuedAt: h.now().UTC().Truncate(time.Second), Issuers: []signing.Issuer{}}
	for rows.Next() {
		var raw []byte
		var iss signing.Issuer
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return 0, err
		}
		if err := json.Unmarshal(raw, &iss); err != nil {
			rows.Close()
			return 0, err
		}
		tl.Issuers = append(tl.Issuers, iss)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	payload, err := json.Marshal(tl)
	if err != nil {
		return 0, err
	}
	env, err := wire.SignEnvelope(h.keys.root, payload)
	if err != nil {
		return 0, err
	}
	doc, err := json.Marshal(env)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO trust (seq, doc) VALUES (?, ?)`, seq, doc); err != nil {
		return 0, err
	}
	return seq, nil
}

// TrustDocument returns the latest signed trust list (nil when no issuer was ever added).
func (h *Hub) TrustDocument(ctx context.Context) ([]byte, error) {
	var doc []byte
	err := h.r.QueryRowContext(ctx, `SELECT doc FROM trust ORDER BY seq DESC LIMIT 1`).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hub: trust document: %w", err)
	}
	return doc, nil
}
