package hub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// NewToken makes a one-time enrollment token for a device of hall with lanes lanes, valid for
// ttl. Only its hash is stored: the token is shown once.
func (h *Hub) NewToken(ctx context.Context, hall string, lanes int, ttl time.Duration) (string, error) {
	if hall == "" || len(hall) > 64 {
		return "", errors.New("hub: token: hall must be 1–64 characters")
	}
	if lanes < 1 || lanes > 64 {
		return "", fmt.Errorf("hub: token: lanes %d: want 1–64", lanes)
	}
	if ttl <= 0 {
		return "", errors.New("hub: token: validity must be positive")
	}
	raw := make([]byte, 20)
	rand.Read(raw)
	tok := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	hash := sha256.Sum256([]byte(tok))
	now := h.now()
	_, err := h.w.ExecContext(ctx, `INSERT INTO tokens (hash, hall, lanes, created_at, expires) VALUES (?, ?, ?, ?, ?)`,
		hash[:], hall, lanes, ms(now), ms(now.Add(ttl)))
	if err != nil {
		return "", fmt.Errorf("hub: token: %w", err)
	}
	return tok, nil
}

// Enroll redeems a token for a client certificate. code is the HTTP status for a refusal.
func (h *Hub) Enroll(ctx context.Context, req wire.EnrollRequest) (wire.EnrollResponse, int, error) {
	csr, err := x509.ParseCertificateRequest(req.CSR)
	if err != nil {
		return wire.EnrollResponse{}, http.StatusBadRequest, fmt.Errorf("certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return wire.EnrollResponse{}, http.StatusBadRequest, fmt.Errorf("certificate request signature: %w", err)
	}
	if k, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return wire.EnrollResponse{}, http.StatusBadRequest, errors.New("device key must be ECDSA P-256 (keys are sealed to it)")
	}
	hash := sha256.Sum256([]byte(strings.TrimSpace(strings.ToLower(req.Token))))
	idb := make([]byte, 5)
	rand.Read(idb)
	id := "d-" + hex.EncodeToString(idb)
	var resp wire.EnrollResponse
	code := http.StatusForbidden
	err = h.inTx(ctx, func(tx *sql.Tx) error {
		var hall string
		var lanes int
		var expires, used int64
		err := tx.QueryRowContext(ctx, `SELECT hall, lanes, expires, used_at FROM tokens WHERE hash = ?`, hash[:]).Scan(&hall, &lanes, &expires, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errors.New("enrollment token unknown")
		case err != nil:
			code = http.StatusServiceUnavailable
			return err
		case used != 0:
			return errors.New("enrollment token already used")
		case ms(h.now()) >= expires:
			return errors.New("enrollment token expired")
		}
		der, cert, err := h.keys.issueDeviceCert(csr, id, hall, h.opt.DeviceCertValidity)
		if err != nil {
			code = http.StatusInternalServerError
			return err
		}
		now := ms(h.now())
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET used_at = ?, device = ? WHERE hash = ?`, now, id, hash[:]); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, hall, lanes, serial, public_key, enrolled_at, cert_expires, last_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, hall, lanes, cert.SerialNumber.Text(16), csr.RawSubjectPublicKeyInfo, now, ms(cert.NotAfter), now); err != nil {
			return err
		}
		resp = wire.EnrollResponse{V: wire.Major, Device: id, Hall: hall, Lanes: lanes, Certificate: der,
			Chain: [][]byte{h.keys.caCert.Raw, h.keys.rootCert.Raw}, KeyCert: h.keys.batch.Cert()}
		return nil
	})
	if err != nil {
		return wire.EnrollResponse{}, code, err
	}
	return resp, http.StatusOK, nil
}

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
		d.EnrolledAt, d.CertExpires, d.LastSeen, d.OutboxOldest, d.RevokedAt = fromMS(en), fromMS(ce), fromMS(ls), fromMS(oo), fromMS(rv)
		out = append(out, d)
	}
	return out, rows.Err()
}

// RevokeDevice refuses the device's certificate from its next request on.
func (h *Hub) RevokeDevice(ctx context.Context, id string) error {
	res, err := h.w.ExecContext(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, ms(h.now()), id)
	if err != nil {
		return fmt.Errorf("hub: revoke device: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("hub: revoke device: %q is not an enrolled, unrevoked device", id)
	}
	return nil
}

var (
	visitMethods  = []string{"card", "code", "card+code", "temp", "manual"} // manual: staff-console ID entry
	visitOutcomes = []string{"PASS", "DENY", "MANUAL", "RETRY"}
)

// checkRecord says why a record can never be accepted, or "" when it is well formed.
func checkRecord(r wire.Record) string {
	if _, err := uuid.Parse(r.ID); err != nil {
		return "id is not a UUID"
	}
	if r.At.IsZero() {
		return "at is missing"
	}
	switch r.Kind {
	case "visit":
		v := r.Visit
		switch {
		case v == nil:
			return "visit record without a visit body"
		case v.Lane == "" || len(v.Lane) > 32:
			return "lane must be 1–32 characters"
		case !slices.Contains(visitMethods, v.Method):
			return fmt.Sprintf("method %q unknown", v.Method)
		case !slices.Contains(visitOutcomes, v.Outcome):
			return fmt.Sprintf("outcome %q unknown", v.Outcome)
		case len(v.Reason) > 64:
			return "reason longer than 64 bytes"
		case utf8.RuneCountInString(v.MaskedName) > 64:
			return "masked name longer than 64 characters"
		case v.PersonKey != nil && len(v.PersonKey) != wire.PersonKeySize:
			return fmt.Sprintf("person key of %d bytes, want %d", len(v.PersonKey), wire.PersonKeySize)
		case len(v.SealedID) > 512:
			return "sealed id longer than 512 bytes"
		case v.TempC != nil && (*v.TempC < 0 || *v.TempC > 60):
			return fmt.Sprintf("temperature %.1f °C impossible", *v.TempC)
		}
	case "ticket":
		if len(r.Body) == 0 || len(r.Body) > 4096 || !json.Valid(r.Body) || r.Body[0] != '{' {
			return "ticket record needs a JSON object body of at most 4 KiB"
		}
	default:
		return fmt.Sprintf("record kind %q unknown", r.Kind)
	}
	return ""
}

// Ingest stores a batch of records in one transaction, each ID at most once, and answers which
// IDs it holds (new or already there) and which it refuses for good.
func (h *Hub) Ingest(ctx context.Context, deviceID string, recs []wire.Record) (wire.Ack, error) {
	ack := wire.Ack{Header: wire.Header{V: wire.Major, Type: wire.TypeAck}, Accepted: []string{}}
	var good []wire.Record
	for _, r := range recs {
		if why := checkRecord(r); why != "" {
			ack.Rejected = append(ack.Rejected, wire.Rejection{ID: r.ID, Reason: why})
			continue
		}
		good = append(good, r)
	}
	now := ms(h.now())
	err := h.inTx(ctx, func(tx *sql.Tx) error {
		visit, err := tx.PrepareContext(ctx, `INSERT INTO visits (id, device, received_at, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer visit.Close()
		other, err := tx.PrepareContext(ctx, `INSERT INTO records (id, kind, device, received_at, at, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer other.Close()
		for _, r := range good {
			id := uuid.MustParse(r.ID)
			if r.Kind == "visit" {
				v := r.Visit
				var temp any
				if v.TempC != nil {
					temp = *v.TempC
				}
				var pk, sealed any
				if v.PersonKey != nil {
					pk = v.PersonKey
				}
				if v.SealedID != nil {
					sealed = v.SealedID
				}
				_, err = visit.ExecContext(ctx, id[:], deviceID, now, ms(r.At), v.Lane, v.Method, pk, sealed, v.MaskedName, temp, v.Outcome, v.Reason)
			} else {
				_, err = other.ExecContext(ctx, id[:], r.Kind, deviceID, now, ms(r.At), []byte(r.Body))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wire.Ack{}, fmt.Errorf("hub: ingest %d records: %w", len(good), err)
	}
	for _, r := range good {
		ack.Accepted = append(ack.Accepted, uuid.MustParse(r.ID).String())
	}
	ack.IssuedAt = h.now().UTC()
	return ack, nil
}

// VisitRecord is one stored visit, as exported.
type VisitRecord struct {
	ID         string    `json:"id"`
	Device     string    `json:"device"`
	ReceivedAt time.Time `json:"received_at"`
	At         time.Time `json:"at"`
	Lane       string    `json:"lane"`
	Method     string    `json:"method"`
	PersonKey  []byte    `json:"person_key,omitempty"`
	SealedID   []byte    `json:"sealed_id,omitempty"`
	MaskedName string    `json:"masked_name"`
	TempC      *float64  `json:"temp_c,omitempty"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason"`
}

// Visits calls fn for every visit received at or after since, in visit time order.
func (h *Hub) Visits(ctx context.Context, since time.Time, fn func(VisitRecord) error) error {
	rows, err := h.r.QueryContext(ctx, `SELECT id, device, received_at, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason
		FROM visits WHERE at >= ? ORDER BY at, id`, ms(since))
	if err != nil {
		return fmt.Errorf("hub: visits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v VisitRecord
		var id []byte
		var rec, at int64
		var temp sql.NullFloat64
		if err := rows.Scan(&id, &v.Device, &rec, &at, &v.Lane, &v.Method, &v.PersonKey, &v.SealedID, &v.MaskedName, &temp, &v.Outcome, &v.Reason); err != nil {
			return fmt.Errorf("hub: visits: %w", err)
		}
		u, err := uuid.FromBytes(id)
		if err != nil {
			return fmt.Errorf("hub: visits: %w", err)
		}
		v.ID, v.ReceivedAt, v.At = u.String(), fromMS(rec), fromMS(at)
		if temp.Valid {
			v.TempC = &temp.Float64
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// VisitIDs returns the IDs of every stored visit (tests compare it with the kiosk's visits).
func (h *Hub) VisitIDs(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := h.Visits(ctx, time.Time{}, func(v VisitRecord) error {
		out[v.ID] = true
		return nil
	})
	return out, err
}

// RevokeCode adds a health code ID to the revoked stream; expires is when the code would have
// expired anyway (the row may then go).
func (h *Hub) RevokeCode(ctx context.Context, cid []byte, expires time.Time) (int64, error) {
	if len(cid) != wire.CodeIDSize {
		return 0, fmt.Errorf("hub: revoke code: code id of %d bytes, want %d", len(cid), wire.CodeIDSize)
	}
	var seq int64
	err := h.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `UPDATE streams SET seq = seq + 1 WHERE name = 'revoked' RETURNING seq`).Scan(&seq); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked (cid, expires, seq) VALUES (?, ?, ?)
			ON CONFLICT (cid) DO UPDATE SET expires = excluded.expires, seq = excluded.seq`, cid, ms(expires), seq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: revoke code: %w", err)
	}
	return seq, nil
}

func (h *Hub) revokedSince(ctx context.Context, from int64) (wire.Revoked, error) {
	out := wire.Revoked{Header: wire.Header{V: wire.Major, Type: wire.TypeRevoked}, From: from, To: from, CIDs: []wire.Revocation{}}
	const limit = 4000 // ≈ 200 KiB of JSON
	err := h.readTx(ctx, func(tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM streams WHERE name = 'revoked'`).Scan(&cur); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT cid, expires, seq FROM revoked WHERE seq > ? ORDER BY seq LIMIT ?`, from, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r wire.Revocation
			var seq int64
			if err := rows.Scan(&r.CID, &r.Expires, &seq); err != nil {
				return err
			}
			if len(out.CIDs) == limit {
				out.More = true
				break
			}
			out.CIDs = append(out.CIDs, r)
			out.To = seq
		}
		if !out.More {
			out.To = max(cur, from)
		}
		return rows.Err()
	})
	out.IssuedAt = h.now().UTC()
	return out, err
}

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
	err := h.inTx(ctx, func(tx *sql.Tx) error {
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

// AddIssuer adds an issuer to the trust list, or a key to an issuer already there (the other
// fields are then replaced by the new ones when given), and publishes a new root-signed list.
func (h *Hub) AddIssuer(ctx context.Context, iss wire.TrustIssuer) (int64, error) {
	if iss.ID == "" || len(iss.ID) > 64 {
		return 0, errors.New("hub: issuer: id must be 1–64 characters")
	}
	for _, c := range iss.Classes {
		if c < 1 || c > 3 {
			return 0, fmt.Errorf("hub: issuer: class %d: want 1 phone, 2 printed, 3 proxy", c)
		}
	}
	for i, k := range iss.Keys {
		if k.Alg != wire.AlgEdDSA && k.Alg != wire.AlgES256 && k.Alg != "SM2-SM3" {
			return 0, fmt.Errorf("hub: issuer key %d: alg %q: want EdDSA, ES256 or SM2-SM3", i, k.Alg)
		}
		if len(k.PublicKey) == 0 {
			return 0, fmt.Errorf("hub: issuer key %d: no public key", i)
		}
		if !k.NotAfter.After(k.NotBefore) {
			return 0, fmt.Errorf("hub: issuer key %d: not_after must be after not_before", i)
		}
		iss.Keys[i].KID = wire.KID(k.PublicKey)
		iss.Keys[i].NotBefore, iss.Keys[i].NotAfter = k.NotBefore.UTC(), k.NotAfter.UTC()
	}
	if iss.Binding == (wire.TrustBinding{}) {
		iss.Binding = wire.DefaultBinding()
	}
	var seq int64
	err := h.inTx(ctx, func(tx *sql.Tx) error {
		var raw []byte
		err := tx.QueryRowContext(ctx, `SELECT entry FROM issuers WHERE id = ? AND revoked_at = 0`, iss.ID).Scan(&raw)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			var old wire.TrustIssuer
			if err := json.Unmarshal(raw, &old); err != nil {
				return err
			}
			for _, k := range old.Keys {
				if !slices.ContainsFunc(iss.Keys, func(n wire.TrustKey) bool { return string(n.KID) == string(k.KID) }) {
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
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO issuers (id, entry, revoked_at) VALUES (?, ?, 0)`, iss.ID, entry); err != nil {
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
	err := h.inTx(ctx, func(tx *sql.Tx) error {
		var raw []byte
		if err := tx.QueryRowContext(ctx, `SELECT entry FROM issuers WHERE id = ? AND revoked_at = 0`, id).Scan(&raw); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("issuer %q is not in the trust list", id)
			}
			return err
		}
		if len(kid) == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE issuers SET revoked_at = ? WHERE id = ?`, ms(h.now()), id); err != nil {
				return err
			}
		} else {
			var iss wire.TrustIssuer
			if err := json.Unmarshal(raw, &iss); err != nil {
				return err
			}
			n := len(iss.Keys)
			iss.Keys = slices.DeleteFunc(iss.Keys, func(k wire.TrustKey) bool { return string(k.KID) == string(kid) })
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
func (h *Hub) publishTrust(ctx context.Context, tx *sql.Tx) (int64, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE streams SET seq = seq + 1 WHERE name = 'trust' RETURNING seq`).Scan(&seq); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT entry FROM issuers WHERE revoked_at = 0 ORDER BY id`)
	if err != nil {
		return 0, err
	}
	tl := wire.TrustList{Version: 1, Seq: seq, IssuedAt: h.now().UTC().Truncate(time.Second), Issuers: []wire.TrustIssuer{}}
	for rows.Next() {
		var raw []byte
		var iss wire.TrustIssuer
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
