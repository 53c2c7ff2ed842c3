package hub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"onepass/sync/wire"
)

// Handler serves the protocol. It expects to run behind TLSConfig (Serve does that); a request
// without a verified client certificate is served only at /v1/enroll.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathEnroll, h.enroll)
	mux.Handle("GET "+wire.PathHead, h.auth(h.head))
	mux.Handle("GET "+wire.PathDelta, h.auth(h.serveDelta))
	mux.Handle("GET "+wire.PathSnapshot, h.auth(h.serveSnapshot))
	mux.Handle("GET "+wire.PathTrust, h.auth(h.serveTrust))
	mux.Handle("GET "+wire.PathRevoked, h.auth(h.serveRevoked))
	mux.Handle("GET "+wire.PathPolicy, h.auth(h.servePolicy))
	mux.Handle("GET "+wire.PathKeys, h.auth(h.serveKeys))
	mux.Handle("POST "+wire.PathVisits, h.auth(h.ingest))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(wire.ProtocolHeader, strconv.Itoa(wire.Major))
		if v := r.Header.Get(wire.ProtocolHeader); v != "" && v != strconv.Itoa(wire.Major) {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("protocol %s not spoken here (this hub speaks %d)", v, wire.Major))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// device is the authenticated caller.
type device struct {
	id        string
	hall      string
	publicKey []byte
}

type deviceHandler func(w http.ResponseWriter, r *http.Request, d device)

// auth admits requests carrying the client certificate of an enrolled, unrevoked device, checked
// on every request so a revocation takes effect from the next request on, even on a kept-alive
// connection.
func (h *Hub) auth(next deviceHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			httpError(w, http.StatusUnauthorized, "client certificate required: enroll this device first")
			return
		}
		leaf := r.TLS.VerifiedChains[0][0]
		id := leaf.Subject.CommonName
		var d device
		var serial string
		var revoked int64
		err := h.r.QueryRowContext(r.Context(), `SELECT hall, public_key, serial, revoked_at FROM devices WHERE id = ?`, id).
			Scan(&d.hall, &d.publicKey, &serial, &revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			httpError(w, http.StatusForbidden, fmt.Sprintf("device %q is not enrolled here", id))
			return
		case err != nil:
			httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
			return
		case revoked != 0:
			httpError(w, http.StatusForbidden, fmt.Sprintf("device certificate revoked on %s: re-enroll with a new token",
				wire.FromUnixMS(revoked).Format(time.RFC3339)))
			return
		case serial != leaf.SerialNumber.Text(16):
			httpError(w, http.StatusForbidden, "device certificate superseded by a later enrollment")
			return
		}
		d.id = id
		h.touch(r, id)
		next(w, r, d)
	})
}

// touch records when a device was last seen and what its outbox holds: when the reported depth
// changed, and otherwise at most every ten seconds per device.
func (h *Hub) touch(r *http.Request, id string) {
	now := h.now()
	depthS := r.Header.Get(wire.HeaderOutboxDepth)
	h.mu.Lock()
	last := h.seen[id]
	if depthS == last.depth && now.Sub(last.at) < 10*time.Second {
		h.mu.Unlock()
		return // nothing new: spare the database a write per request
	}
	h.seen[id] = seenAt{at: now, depth: depthS}
	h.mu.Unlock()
	q := `UPDATE devices SET last_seen = ?`
	args := []any{wire.UnixMS(now)}
	if depth, err := strconv.ParseInt(depthS, 10, 64); err == nil && depth >= 0 {
		q += `, outbox_depth = ?, outbox_oldest = ?`
		var oldest int64
		if t, err := time.Parse(time.RFC3339Nano, r.Header.Get(wire.HeaderOutboxOldest)); err == nil && depth > 0 {
			oldest = wire.UnixMS(t)
		}
		args = append(args, depth, oldest)
	}
	if sw := r.Header.Get(wire.HeaderVersion); sw != "" && len(sw) < 64 {
		q += `, software = ?`
		args = append(args, sw)
	}
	args = append(args, id)
	if _, err := h.w.ExecContext(r.Context(), q+` WHERE id = ?`, args...); err != nil {
		h.log.Warn("hub: record device activity", "device", id, "err", err)
	}
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(wire.Error{V: wire.Major, Error: msg})
}

// writeSigned signs v and sends it.
func (h *Hub) writeSigned(w http.ResponseWriter, v any) {
	body, err := h.keys.batch.Seal(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (h *Hub) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "enrollment request: "+err.Error())
		return
	}
	if req.V != wire.Major {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("protocol %d not spoken here (this hub speaks %d)", req.V, wire.Major))
		return
	}
	resp, code, err := h.Enroll(r.Context(), req)
	if err != nil {
		h.log.Warn("hub: enrollment refused", "err", err, "remote", r.RemoteAddr)
		httpError(w, code, err.Error())
		return
	}
	h.log.Info("hub: device enrolled", "device", resp.Device, "hall", resp.Hall)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (h *Hub) head(w http.ResponseWriter, r *http.Request, d device) {
	nonce := r.URL.Query().Get("nonce")
	if len(nonce) > 64 {
		httpError(w, http.StatusBadRequest, "nonce longer than 64 characters")
		return
	}
	hd := wire.Head{Header: wire.Header{V: wire.Major, Type: wire.TypeHead}, Device: d.id, Nonce: nonce,
		ValidFor: int64(h.opt.HeadValidFor / time.Second)}
	// One statement, no transaction: with the device's check, a head is two round trips.
	hs, err := readHeads(r.Context(), h.r)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
		return
	}
	hd.Status, hd.Keys.Epoch = hs.status, hs.status.Epoch
	hd.Trust.Seq, hd.Revoked.Seq, hd.Policy.Version = hs.trust, hs.revoked, hs.policy
	hd.IssuedAt = h.now().UTC()
	h.writeSigned(w, hd)
}

func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("query %s=%q: want a non-negative integer", name, s)
	}
	return v, nil
}

func (h *Hub) serveDelta(w http.ResponseWriter, r *http.Request, _ device) {
	epoch, err1 := queryInt(r, "epoch")
	from, err2 := queryInt(r, "from")
	if err := errors.Join(err1, err2); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := h.delta(r.Context(), epoch, from)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
		return
	}
	h.writeSigned(w, d)
}

func (h *Hub) serveSnapshot(w http.ResponseWriter, r *http.Request, _ device) {
	epoch, err := queryInt(r, "epoch")
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	lo, err1 := parseKeyHex(r.URL.Query().Get("lo"))
	hi, err2 := parseKeyHex(r.URL.Query().Get("hi"))
	if err := errors.Join(err1, err2); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if lo == nil {
		lo = []byte{}
	}
	s, err := h.snapshot(r.Context(), epoch, lo, hi)
	switch {
	case errors.Is(err, errStaleEpoch):
		httpError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
		return
	}
	h.writeSigned(w, s)
}

func (h *Hub) serveTrust(w http.ResponseWriter, r *http.Request, _ device) {
	var doc []byte
	err := h.r.QueryRowContext(r.Context(), `SELECT doc FROM trust ORDER BY seq DESC LIMIT 1`).Scan(&doc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		httpError(w, http.StatusNotFound, "no trust list yet: add an issuer first")
		return
	case err != nil:
		httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

func (h *Hub) serveRevoked(w http.ResponseWriter, r *http.Request, _ device) {
	from, err := queryInt(r, "from")
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	out, err := h.revokedSince(r.Context(), from)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
		return
	}
	h.writeSigned(w, out)
}

func (h *Hub) servePolicy(w http.ResponseWriter, r *http.Request, _ device) {
	p, err := h.policyDoc(r.Context())
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
		return
	}
	h.writeSigned(w, p)
}

func (h *Hub) serveKeys(w http.ResponseWriter, r *http.Request, d device) {
	pub, err := x509.ParsePKIXPublicKey(d.publicKey)
	ek, ok := pub.(*ecdsa.PublicKey)
	if err != nil || !ok || ek.Curve != elliptic.P256() {
		httpError(w, http.StatusConflict, "device key is not ECDSA P-256: cannot seal keys to it")
		return
	}
	out := wire.Keys{Header: wire.Header{V: wire.Major, Type: wire.TypeKeys}, Device: d.id, PlatformPublicKey: h.keys.platformPub}
	epoch, key, err := currentEpoch(r.Context(), h.r)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	sealed, err := wire.SealDeploymentKey(ek, d.id, epoch, key)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out.Epoch, out.Keys = epoch, []wire.SealedKey{{Epoch: epoch, Sealed: sealed}}
	out.IssuedAt = h.now().UTC()
	h.writeSigned(w, out)
}

func (h *Hub) ingest(w http.ResponseWriter, r *http.Request, d device) {
	// A whole-batch 4xx tells the kiosk to split the batch until the bad record is alone.
	body, err := io.ReadAll(io.LimitReader(r.Body, wire.MaxUploadBytes+64<<10+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "upload body: "+err.Error())
		return
	}
	if len(body) > wire.MaxUploadBytes+64<<10 {
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload larger than %d bytes", wire.MaxUploadBytes))
		return
	}
	// The report is read apart (upload.Telemetry stays raw), so a malformed one cannot make the
	// records beside it refused.
	var up upload
	if err := json.Unmarshal(body, &up); err != nil {
		httpError(w, http.StatusBadRequest, "upload is not JSON: "+err.Error())
		return
	}
	if up.V != wire.Major {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("protocol %d not spoken here", up.V))
		return
	}
	if len(up.Records) > wire.MaxUploadRecords {
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d records, at most %d per upload", len(up.Records), wire.MaxUploadRecords))
		return
	}
	ack, err := h.Ingest(r.Context(), d.id, up.Records)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		httpError(w, http.StatusServiceUnavailable, "hub database: "+err.Error())
		return
	}
	h.noteTelemetry(r.Context(), d.id, up.Telemetry)
	h.writeSigned(w, ack)
}

// upload is wire.Upload as the hub reads it: the telemetry is parsed apart (noteTelemetry).
type upload struct {
	V         int             `json:"v"`
	Records   []wire.Record   `json:"records"`
	Telemetry json.RawMessage `json:"telemetry"`
}
