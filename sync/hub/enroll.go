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
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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
		hash[:], hall, lanes, wire.UnixMS(now), wire.UnixMS(now.Add(ttl)))
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
	// Any failure but a refusal of the token is the database's (away, or a lost race retried
	// too often): the kiosk retries later.
	code := http.StatusServiceUnavailable
	err = h.inTx(ctx, func(tx *dbTx) error {
		code = http.StatusServiceUnavailable
		var hall string
		var lanes int
		var expires, used int64
		err := tx.QueryRowContext(ctx, `SELECT hall, lanes, expires, used_at FROM tokens WHERE hash = ?`, hash[:]).Scan(&hall, &lanes, &expires, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			code = http.StatusForbidden
			return errors.New("enrollment token unknown")
		case err != nil:
			return err
		case used != 0:
			code = http.StatusForbidden
			return errors.New("enrollment token already used")
		case wire.UnixMS(h.now()) >= expires:
			code = http.StatusForbidden
			return errors.New("enrollment token expired")
		}
		der, cert, err := h.keys.issueDeviceCert(csr, id, hall, h.opt.DeviceCertValidity)
		if err != nil {
			code = http.StatusInternalServerError
			return err
		}
		now := wire.UnixMS(h.now())
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET used_at = ?, device = ? WHERE hash = ?`, now, id, hash[:]); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, hall, lanes, serial, public_key, enrolled_at, cert_expires, last_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, hall, lanes, cert.SerialNumber.Text(16), csr.RawSubjectPublicKeyInfo, now, wire.UnixMS(cert.NotAfter), now); err != nil {
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
