package hub

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/identity"
	"onepass/signing"
	"onepass/sync/wire"
)

var bg = context.Background()

// newHub opens a fresh hub on backend be ("sqlite" or "postgres", see forBackends).
func newHub(t testing.TB, be string, o Options) *Hub {
	t.Helper()
	o.DB = dbURL(t, be)
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := Open(bg, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

var asOf = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func key(i int) []byte {
	k := sha256.Sum256(fmt.Appendf(nil, "p%d", i))
	return k[:]
}

func put(t testing.TB, h *Hub, from, n, status int) int64 {
	t.Helper()
	es := make([]StatusEntry, n)
	for i := range es {
		es[i] = StatusEntry{PersonKey: key(from + i), Status: status, AsOf: asOf, Reason: "r"}
	}
	seq, err := h.PutStatus(bg, es...)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// digestsOf recomputes what a replica holding rows must have.
func digestsOf(rows []wire.StatusOp) []byte {
	var d [wire.Partitions]wire.Digest
	for _, r := range rows {
		d[wire.Partition(r.Key)].Add(wire.OpHash(r))
	}
	return wire.PackDigests(&d)
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir, InitOptions{}); err == nil || !strings.Contains(err.Error(), "already exist") {
		t.Fatalf("second init: %v", err)
	}
	if _, err := Open(bg, t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "init keys") {
		t.Fatalf("open without keys: %v", err)
	}
}

// TestDeltaChunks: a replica that applies every chunk from its cursor ends with exactly the
// hub's rows, and the last chunk's digests describe them.
func TestDeltaChunks(t *testing.T) { forBackends(t, testDeltaChunks) }

func testDeltaChunks(t *testing.T, be string) {
	h := newHub(t, be, Options{ChunkBytes: 16 << 10})
	put(t, h, 0, 1000, 3)
	replica := map[string]wire.StatusOp{}
	apply := func(from int64) int64 {
		for chunks := 0; ; chunks++ {
			d, err := h.delta(bg, 1, from)
			if err != nil {
				t.Fatal(err)
			}
			if d.SnapshotRequired || d.From != from || d.To < from {
				t.Fatalf("chunk from %d: %+v", from, d.Header)
			}
			for _, op := range d.Ops {
				if op.Del {
					delete(replica, string(op.Key))
				} else {
					replica[string(op.Key)] = op
				}
			}
			from = d.To
			if !d.More {
				var rows []wire.StatusOp
				for _, r := range replica {
					rows = append(rows, r)
				}
				if d.Count != int64(len(rows)) || !bytes.Equal(d.PartitionDigests, digestsOf(rows)) {
					t.Fatalf("last chunk: count %d, replica %d, digests equal %v", d.Count, len(rows), bytes.Equal(d.PartitionDigests, digestsOf(rows)))
				}
				if chunks < 2 {
					t.Fatalf("only %d chunks: the test does not cover chunking", chunks+1)
				}
				return from
			}
		}
	}
	// A kiosk that snapshotted an empty hub at 0 catches up by delta.
	cur := apply(0)
	put(t, h, 500, 1000, 1)
	del := make([]StatusEntry, 300)
	for i := range del {
		del[i] = StatusEntry{PersonKey: key(i), Delete: true}
	}
	if _, err := h.PutStatus(bg, del...); err != nil {
		t.Fatal(err)
	}
	cur = apply(cur)
	rows, _ := h.StatusRows(bg)
	if len(replica) != len(rows) || len(rows) != 1200 {
		t.Fatalf("replica %d rows, hub %d", len(replica), len(rows))
	}
	// Unchanged rows get no new sequence number.
	before := cur
	if seq := put(t, h, 600, 10, 1); seq != before {
		t.Fatalf("re-putting identical rows moved the sequence %d → %d", before, seq)
	}
}

func TestSnapshotRequired(t *testing.T) { forBackends(t, testSnapshotRequired) }

func testSnapshotRequired(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	seq := put(t, h, 0, 10, 2)
	for _, tc := range []struct {
		name        string
		epoch, from int64
	}{{"fresh kiosk", 0, 0}, {"other epoch", 2, seq}, {"future cursor", 1, seq + 5}} {
		d, err := h.delta(bg, tc.epoch, tc.from)
		if err != nil || !d.SnapshotRequired || d.Epoch != 1 {
			t.Errorf("%s: %+v %v", tc.name, d, err)
		}
	}
	// Tombstones pruned: a cursor before them needs a snapshot; one after does not.
	if _, err := h.PutStatus(bg, StatusEntry{PersonKey: key(1), Delete: true}); err != nil {
		t.Fatal(err)
	}
	if n, err := h.PruneBefore(bg, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if d, _ := h.delta(bg, 1, seq); !d.SnapshotRequired {
		t.Error("cursor before pruned tombstones: no snapshot asked")
	}
	if d, _ := h.delta(bg, 1, seq+1); d.SnapshotRequired {
		t.Error("current cursor: snapshot asked")
	}
}

// TestSnapshotChunks: chunks tile the key range without gaps or overlaps, in key order.
func TestSnapshotChunks(t *testing.T) { forBackends(t, testSnapshotChunks) }

func testSnapshotChunks(t *testing.T, be string) {
	h := newHub(t, be, Options{ChunkBytes: 16 << 10})
	put(t, h, 0, 2000, 1)
	var got []wire.StatusOp
	lo := []byte{}
	chunks := 0
	for {
		s, err := h.snapshot(bg, 1, lo, nil)
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		for _, r := range s.Rows {
			if bytes.Compare(r.Key, lo) < 0 || (s.Next != nil && bytes.Compare(r.Key, s.Next) >= 0) {
				t.Fatalf("row %x outside [%x, %x)", r.Key[:2], lo, s.Next)
			}
		}
		got = append(got, s.Rows...)
		if s.Next == nil {
			break
		}
		lo = s.Next
	}
	rows, _ := h.StatusRows(bg)
	if len(got) != len(rows) || chunks < 3 {
		t.Fatalf("snapshot %d rows in %d chunks, hub %d", len(got), chunks, len(rows))
	}
	for i := range rows {
		if !bytes.Equal(got[i].Key, rows[i].Key) {
			t.Fatalf("row %d out of order", i)
		}
	}
	// One partition only.
	plo, phi := wire.PartitionRange(7)
	s, err := h.snapshot(bg, 1, plo, phi)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Rows {
		if r.Key[0] != 7 {
			t.Fatalf("partition 7 holds %x", r.Key[:1])
		}
	}
	if _, err := h.snapshot(bg, 2, nil, nil); err == nil {
		t.Error("snapshot of a future epoch served")
	}
}

func TestSetStatusStoresNoNumber(t *testing.T) { forBackends(t, testSetStatusStoresNoNumber) }

func testSetStatusStoresNoNumber(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	const id = "11010519491231002X"
	if _, err := h.SetStatus(bg, PersonRef{Number: id}, 3, "contact", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SetStatus(bg, PersonRef{Number: "110105194912310021"}, 3, "", 0); err == nil {
		t.Error("bad check digit accepted")
	}
	_, dk, _ := h.DeploymentKey(bg)
	rows, _ := h.StatusRows(bg)
	if len(rows) != 1 || !bytes.Equal(rows[0].Key, identity.PersonKey(dk, identity.CertResident, id)) || rows[0].Status != 3 {
		t.Fatalf("rows: %+v", rows)
	}
	var sealed []byte
	h.r.QueryRow(`SELECT sealed_id FROM status`).Scan(&sealed)
	if canon, err := identity.Open(h.keys.platformKey, sealed); err != nil || canon != "10|"+id {
		t.Fatalf("sealed id opens to %q, %v", canon, err)
	}
	if _, err := h.SetStatus(bg, PersonRef{Number: id}, 0, "", 0); err != nil {
		t.Fatal(err)
	}
	if rows, _ := h.StatusRows(bg); len(rows) != 0 {
		t.Fatal("unknown status did not remove the person")
	}
}

func TestRotateDeploymentKey(t *testing.T) { forBackends(t, testRotateDeploymentKey) }

func testRotateDeploymentKey(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	ids := []string{"11010519491231002X", "110101199003074477"}
	for _, id := range ids {
		h.SetStatus(bg, PersonRef{Number: id}, 2, "", 0)
	}
	put(t, h, 0, 3, 1) // persons without a sealed ID
	epoch, dropped, err := h.RotateDeploymentKey(bg)
	if err != nil || epoch != 2 || dropped != 3 {
		t.Fatalf("rotate: %d %d %v", epoch, dropped, err)
	}
	_, dk, _ := h.DeploymentKey(bg)
	rows, _ := h.StatusRows(bg)
	if len(rows) != 2 {
		t.Fatalf("%d rows after rotation", len(rows))
	}
	for _, id := range ids {
		found := false
		for _, r := range rows {
			found = found || bytes.Equal(r.Key, identity.PersonKey(dk, identity.CertResident, id))
		}
		if !found {
			t.Errorf("%s not re-keyed", identity.MaskID(id))
		}
	}
	if d, _ := h.delta(bg, 1, 1); !d.SnapshotRequired || d.Epoch != 2 {
		t.Errorf("old epoch delta: %+v", d)
	}
}

func rec(id string, mod func(*wire.Record)) wire.Record {
	t := 36.6
	r := wire.Record{ID: id, Kind: "visit", At: time.Now(), Visit: &wire.Visit{Lane: "1", Method: "card", PersonKey: make([]byte, 32),
		MaskedName: "张*", TempC: &t, Outcome: "PASS", Reason: "ok"}}
	if mod != nil {
		mod(&r)
	}
	return r
}

func TestIngest(t *testing.T) { forBackends(t, testIngest) }

func testIngest(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	ok1, ok2 := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	tests := []struct {
		name string
		r    wire.Record
		why  string
	}{
		{"bad id", rec("x", nil), "not a UUID"},
		{"no time", rec(uuid.NewString(), func(r *wire.Record) { r.At = time.Time{} }), "at is missing"},
		{"no body", rec(uuid.NewString(), func(r *wire.Record) { r.Visit = nil }), "without a visit body"},
		{"method", rec(uuid.NewString(), func(r *wire.Record) { r.Visit.Method = "x" }), "method"},
		{"outcome", rec(uuid.NewString(), func(r *wire.Record) { r.Visit.Outcome = "MAYBE" }), "outcome"},
		{"key size", rec(uuid.NewString(), func(r *wire.Record) { r.Visit.PersonKey = []byte{1} }), "person key"},
		{"temperature", rec(uuid.NewString(), func(r *wire.Record) { v := 99.0; r.Visit.TempC = &v }), "impossible"},
		{"kind", rec(uuid.NewString(), func(r *wire.Record) { r.Kind = "selfie" }), "unknown"},
		{"ticket not json", rec(uuid.NewString(), func(r *wire.Record) { r.Kind, r.Body = "ticket", json.RawMessage(`[1]`) }), "JSON object"},
		{"staff without staff id", rec(uuid.NewString(), func(r *wire.Record) { staffDecision(r); r.Visit.StaffID = "" }), "without staff_id"},
		{"staff outcome", rec(uuid.NewString(), func(r *wire.Record) { staffDecision(r); r.Visit.Outcome = "MANUAL" }), "want PASS or DENY"},
		{"staff overrides", rec(uuid.NewString(), func(r *wire.Record) { staffDecision(r); r.Visit.Overrides = "v-1" }), "overrides is not a UUID"},
		{"staff fields on a card visit", rec(uuid.NewString(), func(r *wire.Record) { r.Visit.StaffID = "7" }), "staff-decision fields"},
		{"staff note", rec(uuid.NewString(), func(r *wire.Record) { staffDecision(r); r.Visit.Note = strings.Repeat("x", 65) }), "note longer"},
	}
	var recs []wire.Record
	for _, tc := range tests {
		recs = append(recs, tc.r)
	}
	ticket := rec(uuid.NewString(), func(r *wire.Record) { r.Kind, r.Visit, r.Body = "ticket", nil, json.RawMessage(`{"event":"issued"}`) })
	staff := rec(uuid.NewString(), staffDecision)
	first := rec(ok1, nil)
	recs = append(recs, first, rec(ok2, nil), first, ticket, staff) // ok1 twice as sent: a retry within the batch
	ack, err := h.Ingest(bg, "d-1", recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.Rejected) != len(tests) {
		t.Fatalf("rejected %+v", ack.Rejected)
	}
	for i, tc := range tests {
		if !strings.Contains(ack.Rejected[i].Reason, tc.why) {
			t.Errorf("%s: reason %q", tc.name, ack.Rejected[i].Reason)
		}
	}
	if len(ack.Accepted) != 5 {
		t.Fatalf("accepted %v", ack.Accepted)
	}
	// The same batch again: the same answer, nothing stored twice.
	if ack2, err := h.Ingest(bg, "d-1", recs); err != nil || len(ack2.Accepted) != 5 {
		t.Fatalf("again: %+v %v", ack2, err)
	}
	ids, _ := h.VisitIDs(bg)
	var others int
	h.r.QueryRow(`SELECT count(*) FROM records`).Scan(&others)
	if len(ids) != 3 || !ids[ok1] || !ids[ok2] || !ids[staff.ID] || others != 1 {
		t.Fatalf("stored visits %v, other records %d", ids, others)
	}
	var got VisitRecord
	h.Visits(bg, time.Time{}, func(v VisitRecord) error {
		if v.ID == staff.ID {
			got = v
		}
		return nil
	})
	if got.StaffID != "7" || got.Overrides != staff.Visit.Overrides || got.Note != "elderly_no_phone" || got.Method != "staff" {
		t.Errorf("stored staff decision %+v", got)
	}
}

// staffDecision makes r a staff member's PASS on another (MANUAL) visit.
func staffDecision(r *wire.Record) {
	r.Visit.Method, r.Visit.Reason, r.Visit.StaffID, r.Visit.Note = "staff", "staff_override", "7", "elderly_no_phone"
	r.Visit.Overrides = "01a21950-8d65-7153-94b4-e9b4bb700d05"
}

// FuzzIngest: any upload body either fails to parse or yields an answer naming every record once,
// and the same answer from both backends.
func FuzzIngest(f *testing.F) {
	h := newHub(f, "sqlite", Options{})
	hp := newHub(f, "postgres", Options{})
	good, _ := json.Marshal(wire.Upload{V: 1, Records: []wire.Record{rec(uuid.NewString(), nil)}})
	f.Add(good)
	staff, _ := json.Marshal(wire.Upload{V: 1, Records: []wire.Record{rec(uuid.NewString(), staffDecision)}})
	f.Add(staff)
	f.Add([]byte(`{"v":1,"records":[{"id":"x","kind":"visit"}]}`))
	f.Add([]byte(`{"v":1,"records":[{"id":"01a21950-8d65-7153-94b4-e9b4bb700d05","kind":"ticket","at":"2026-01-01T00:00:00Z","body":{}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var up wire.Upload
		if json.Unmarshal(body, &up) != nil || len(up.Records) > wire.MaxUploadRecords {
			return
		}
		ack, err := h.Ingest(bg, "d-fuzz", up.Records)
		if err != nil {
			t.Fatal(err)
		}
		if len(ack.Accepted)+len(ack.Rejected) != len(up.Records) {
			t.Fatalf("%d records, %d accepted, %d rejected", len(up.Records), len(ack.Accepted), len(ack.Rejected))
		}
		ackp, err := hp.Ingest(bg, "d-fuzz", up.Records)
		if err != nil {
			t.Fatalf("postgres: %v", err)
		}
		ack.IssuedAt, ackp.IssuedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(ack, ackp) {
			t.Fatalf("the backends answer differently:\nsqlite   %+v\npostgres %+v", ack, ackp)
		}
	})
}

func csr(t testing.TB, k *ecdsa.PrivateKey) []byte {
	b, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "k"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnrollTokens(t *testing.T) { forBackends(t, testEnrollTokens) }

func testEnrollTokens(t *testing.T, be string) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	h := newHub(t, be, Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok, err := h.NewToken(bg, "hall-7", 3, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, code, err := h.Enroll(bg, wire.EnrollRequest{V: 1, Token: tok, CSR: csr(t, k)})
	if err != nil || code != http.StatusOK || resp.Hall != "hall-7" || resp.Lanes != 3 {
		t.Fatalf("enroll: %+v %d %v", resp, code, err)
	}
	cert, _ := x509.ParseCertificate(resp.Certificate)
	if cert.Subject.CommonName != resp.Device || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatalf("certificate: %+v", cert.Subject)
	}
	if _, _, err := h.Enroll(bg, wire.EnrollRequest{V: 1, Token: tok, CSR: csr(t, k)}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("reused token: %v", err)
	}
	late, _ := h.NewToken(bg, "hall-7", 1, time.Minute)
	now.Add(int64(2 * time.Minute))
	if _, _, err := h.Enroll(bg, wire.EnrollRequest{V: 1, Token: late, CSR: csr(t, k)}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edCSR, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, ed)
	tok2, _ := h.NewToken(bg, "hall-7", 1, time.Hour)
	if _, code, err := h.Enroll(bg, wire.EnrollRequest{V: 1, Token: tok2, CSR: edCSR}); err == nil || code != http.StatusBadRequest {
		t.Errorf("Ed25519 device key: %d %v", code, err)
	}
	if err := h.RevokeDevice(bg, resp.Device); err != nil {
		t.Fatal(err)
	}
	if err := h.RevokeDevice(bg, resp.Device); err == nil {
		t.Error("revoked twice")
	}
	ds, _ := h.Devices(bg)
	if len(ds) != 1 || ds[0].RevokedAt.IsZero() {
		t.Errorf("devices: %+v", ds)
	}
}

func TestTrustListAndPolicy(t *testing.T) { forBackends(t, testTrustListAndPolicy) }

func testTrustListAndPolicy(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	pub1, _, _ := ed25519.GenerateKey(rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s1, _ := x509.MarshalPKIXPublicKey(pub1)
	s2, _ := x509.MarshalPKIXPublicKey(k2.Public())
	now := time.Now()
	tk := func(alg signing.Alg, spki []byte) signing.IssuerKey {
		return signing.IssuerKey{Alg: alg, PublicKey: spki, NotBefore: now, NotAfter: now.AddDate(1, 0, 0)}
	}
	if _, err := h.AddIssuer(bg, signing.Issuer{ID: "A", Name: "a", Keys: []signing.IssuerKey{tk(signing.EdDSA, s1)}}); err != nil {
		t.Fatal(err)
	}
	seq, err := h.AddIssuer(bg, signing.Issuer{ID: "A", Keys: []signing.IssuerKey{tk(signing.ES256, s2)}})
	if err != nil || seq != 2 {
		t.Fatalf("second key: %d %v", seq, err)
	}
	if _, err := h.AddIssuer(bg, signing.Issuer{ID: "B", Keys: []signing.IssuerKey{tk("RS256", s2)}}); err == nil {
		t.Error("RS256 issuer key accepted")
	}
	doc, _ := h.TrustDocument(bg)
	v, _ := wire.NewVerifier(h.RootSPKI())
	payload, err := v.OpenRoot(doc)
	if err != nil {
		t.Fatal(err)
	}
	var tl signing.TrustList
	json.Unmarshal(payload, &tl)
	if tl.Seq != 2 || len(tl.Issuers) != 1 || len(tl.Issuers[0].Keys) != 2 || tl.Issuers[0].Name != "a" || !bytes.Equal(tl.Issuers[0].Keys[1].KID, signing.KID(s1)) {
		t.Fatalf("trust list: %s", payload)
	}
	// An issuer added without binding parameters gets signing's one default (within the bounds
	// every kiosk checks).
	if b := tl.Issuers[0].Binding; b != signing.DefaultBind || b.Validate() != nil {
		t.Errorf("binding of an issuer added without one = %+v, want signing.DefaultBind %+v", b, signing.DefaultBind)
	}
	if seq, err := h.RevokeIssuer(bg, "A", signing.KID(s1)); err != nil || seq != 3 {
		t.Fatalf("revoke key: %d %v", seq, err)
	}
	if _, err := h.RevokeIssuer(bg, "A", nil); err != nil {
		t.Fatal(err)
	}
	doc, _ = h.TrustDocument(bg)
	payload, _ = v.OpenRoot(doc)
	json.Unmarshal(payload, &tl)
	if tl.Seq != 4 || len(tl.Issuers) != 0 {
		t.Fatalf("after revoking: %s", payload)
	}

	// Policy: the version in force and the future ones, not the superseded.
	for _, pv := range []wire.PolicyVersion{{FeverC: 37.3, ValidFrom: now.Add(-2 * time.Hour)}, {FeverC: 37.5, ValidFrom: now.Add(-time.Hour)}, {FeverC: 37.8, ValidFrom: now.Add(time.Hour)}} {
		if _, err := h.SetPolicy(bg, pv); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.SetPolicy(bg, wire.PolicyVersion{StatusMaxAge: "soon"}); err == nil {
		t.Error("bad duration accepted")
	}
	p, err := h.policyDoc(bg)
	if err != nil || p.Version != 3 || len(p.Versions) != 2 || p.Versions[0].FeverC != 37.5 {
		t.Fatalf("policy: %+v %v", p, err)
	}
	// Revoked codes, in chunks by sequence.
	for i := range 5 {
		if _, err := h.RevokeCode(bg, bytes.Repeat([]byte{byte(i)}, 16), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := h.revokedSince(bg, 2)
	if err != nil || len(r.CIDs) != 3 || r.To != 5 || r.More {
		t.Fatalf("revoked since 2: %+v %v", r, err)
	}
}
