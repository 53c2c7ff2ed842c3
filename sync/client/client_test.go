package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/identity"
	"onepass/signing"
	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/store"
	"onepass/sync/wire"
)

var bg = context.Background()

// TestSyncRoundTrip is the normal life of a kiosk: enroll, get keys, snapshot, deltas with
// changes and removals, trust list, revocations, policy, and uploads.
func TestSyncRoundTrip(t *testing.T) {
	h := newHub(t, hub.Options{ChunkBytes: 32 << 10}) // small chunks: several per sync
	putStatus(t, h.hub, 0, 2000, 3)
	k := newKiosk(t)
	k.enroll(h, nil)

	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, h.hub, k.db)
	if len(k.keys) != 1 || k.keys[0].Epoch != 1 || len(k.keys[0].Deployment) != 32 {
		t.Fatalf("keys delivered: %+v", k.keys)
	}
	_, want, _ := h.hub.DeploymentKey(bg)
	if !bytes.Equal(k.keys[0].Deployment, want) {
		t.Fatal("the kiosk's deployment key is not the hub's")
	}
	fi, err := os.Stat(filepath.Join(k.dir, "keys", "deployment.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("deployment key file: %v %v", fi, err)
	}
	for _, f := range []string{"device.key", "device.crt", "chain.pem", "enrollment.json"} {
		if fi, err := os.Stat(filepath.Join(k.dir, "sync", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
	}

	// Changes, removals and additions arrive by delta.
	putStatus(t, h.hub, 100, 300, 1)
	deleteStatus(t, h.hub, 500, 200)
	putStatus(t, h.hub, 5000, 50, 2)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, h.hub, k.db)
	st := k.c.Status(bg)
	if st.ReplicaAge < 0 || st.ReplicaCount != 1850 || !st.SkewKnown {
		t.Errorf("status after pull: %+v", st)
	}

	// A person set by ID number at the hub is found with the kiosk's key.
	if _, err := h.hub.SetStatus(bg, hub.PersonRef{Number: "11010519491231002X"}, 3, "close contact", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	row, ok, err := k.db.Status(bg, identity.PersonKey(k.keys[0].Deployment, identity.CertResident, "11010519491231002X"))
	if err != nil || !ok || row.Status != 3 {
		t.Fatalf("status set by ID number: %+v %v %v", row, ok, err)
	}

	// Trust list, revoked codes and policy.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	now := time.Now()
	if _, err := h.hub.AddIssuer(bg, signing.Issuer{ID: "510000-SCJKM", Name: "四川省健康码", Region: "510000",
		Keys: []signing.IssuerKey{{Alg: signing.EdDSA, PublicKey: spki, NotBefore: now, NotAfter: now.AddDate(1, 0, 0)}}}); err != nil {
		t.Fatal(err)
	}
	cid := bytes.Repeat([]byte{7}, 16)
	if _, err := h.hub.RevokeCode(bg, cid, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.hub.SetPolicy(bg, wire.PolicyVersion{FeverC: 37.5, StatusMaxAge: "10m"}); err != nil {
		t.Fatal(err)
	}
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	seq, doc, err := k.db.TrustList(bg)
	if err != nil || seq != 1 {
		t.Fatalf("trust list seq %d: %v", seq, err)
	}
	v, _ := wire.NewVerifier(h.root())
	payload, err := v.OpenRoot(doc)
	if err != nil || !strings.Contains(string(payload), "510000-SCJKM") {
		t.Fatalf("stored trust document: %v %s", err, payload)
	}
	if rv, err := k.db.IsRevoked(bg, cid); err != nil || !rv {
		t.Fatalf("revoked code: %v %v", rv, err)
	}
	ver, pdoc, err := k.db.Policy(bg)
	var p wire.Policy
	if err != nil || ver != 1 || json.Unmarshal(pdoc, &p) != nil || p.Versions[0].FeverC != 37.5 {
		t.Fatalf("policy %d %s %v", ver, pdoc, err)
	}

	// Uploads.
	k.appendVisits(2500)
	n, err := k.c.Push(bg)
	if err != nil || n != 2500 {
		t.Fatalf("push: %d %v", n, err)
	}
	sameVisits(t, h.hub, k.db)
	devs, err := h.hub.Devices(bg)
	if err != nil || len(devs) != 1 || devs[0].ID != k.c.Device() || devs[0].LastSeen.IsZero() {
		t.Fatalf("devices: %+v %v", devs, err)
	}
	if h := k.c.Health(); h.State != "ok" {
		t.Errorf("health: %+v", h)
	}
}

// TestReplicaRepairsItself: a replica row changed behind sync's back is found by the partition
// digests and fixed by re-fetching that partition only.
func TestReplicaRepairsItself(t *testing.T) {
	h := newHub(t, hub.Options{})
	putStatus(t, h.hub, 0, 500, 3)
	k := newKiosk(t)
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	// Tamper: the store's own PutStatus does not keep the digests.
	if err := k.db.PutStatus(bg, store.StatusRow{PersonKey: pkey(7), Status: 1, AsOf: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := k.db.DeleteStatus(bg, pkey(8)); err != nil {
		t.Fatal(err)
	}
	k.connect(h, func(c *client.Config) { c.VerifyEvery = time.Nanosecond })
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, h.hub, k.db)
}

// TestOldCursorGetsSnapshot: a kiosk offline for longer than the hub keeps tombstones gets a
// snapshot, and removals it missed are applied.
func TestOldCursorGetsSnapshot(t *testing.T) {
	h := newHub(t, hub.Options{})
	putStatus(t, h.hub, 0, 300, 2)
	k := newKiosk(t)
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	deleteStatus(t, h.hub, 0, 100)
	putStatus(t, h.hub, 1000, 10, 1)
	if n, err := h.hub.PruneBefore(bg, time.Now().Add(time.Hour)); err != nil || n != 100 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, h.hub, k.db)
}

// TestKeyRotation: a new epoch re-keys every person; the kiosk gets the new key sealed to it,
// a snapshot keyed under it, and installs the key only then.
func TestKeyRotation(t *testing.T) {
	h := newHub(t, hub.Options{})
	ids := []string{"11010519491231002X", "110101199003074477"}
	for _, id := range ids {
		if _, err := h.hub.SetStatus(bg, hub.PersonRef{Number: id}, 3, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	k := newKiosk(t)
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	epoch, dropped, err := h.hub.RotateDeploymentKey(bg)
	if err != nil || epoch != 2 || dropped != 0 {
		t.Fatalf("rotate: %d %d %v", epoch, dropped, err)
	}
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, h.hub, k.db)
	if len(k.keys) != 2 || k.keys[1].Epoch != 2 || bytes.Equal(k.keys[0].Deployment, k.keys[1].Deployment) {
		t.Fatalf("keys: %+v", k.keys)
	}
	for _, id := range ids {
		if _, ok, _ := k.db.Status(bg, identity.PersonKey(k.keys[1].Deployment, identity.CertResident, id)); !ok {
			t.Errorf("%s not found under the new key", identity.MaskID(id))
		}
	}
}

// TestEnrollmentChecks: tokens are one-time, and a hub that does not chain to the pinned root is
// refused before anything is sent.
func TestEnrollmentChecks(t *testing.T) {
	h := newHub(t, hub.Options{})
	tok := h.token()
	dir := t.TempDir()
	if _, err := client.Enroll(bg, h.url, tok, dir, h.root()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enroll(bg, h.url, tok, t.TempDir(), h.root()); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("second use of a token: %v", err)
	}
	if _, err := client.Enroll(bg, h.url, "nonsense", t.TempDir(), h.root()); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("unknown token: %v", err)
	}
	other := newHub(t, hub.Options{})
	if _, err := client.Enroll(bg, h.url, h.token(), t.TempDir(), other.root()); err == nil || !strings.Contains(err.Error(), "pinned root") {
		t.Errorf("hub under another root: %v", err)
	}
	if _, err := client.Enroll(bg, "http://"+h.addr, h.token(), t.TempDir(), h.root()); err == nil {
		t.Error("plain http accepted")
	}
	if _, err := client.New(client.Config{Dir: t.TempDir()}, nil); !errors.Is(err, client.ErrNotEnrolled) {
		t.Errorf("New without enrollment: %v", err)
	}
}

// TestTicketsGoUpToo: queue-ticket events share the outbox with visits and go up as their own
// record kind, exactly once.
func TestTicketsGoUpToo(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, nil)
	k.appendVisits(3)
	now := time.Now()
	tk := store.Ticket{ID: uuid.Must(uuid.NewV7()).String(), Day: "2026-11-26", Number: "A001", Origin: "A", Service: "A",
		Source: "kiosk", State: "waiting", Rank: 1, IssuedAt: now}
	err := k.db.WriteTickets(bg, func(b *store.TicketBatch) error {
		return b.Write(&store.TicketWrite{Ticket: tk, Seq: 1, Event: store.TicketEvent{TicketID: tk.ID, At: now, Kind: "issued",
			Day: tk.Day, Number: tk.Number, Service: tk.Service, Source: tk.Source}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := k.c.Push(bg); err != nil {
			t.Fatal(err)
		}
	}
	sameVisits(t, h.hub, k.db)
	if n, _ := k.db.TicketOutboxDepth(bg); n != 0 {
		t.Fatalf("%d ticket events still queued", n)
	}
}

// TestStaffDecisionGoesUp: a staff member's decision on a MANUAL visit reaches the hub with who
// decided, the visit it overrides and the reason chosen.
func TestStaffDecisionGoesUp(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, nil)
	manual := &store.Visit{Lane: "1", Method: "card", PersonKey: pkey(1), MaskedName: "王*", Outcome: "MANUAL", Reason: "status_unknown"}
	if err := k.db.Append(bg, manual); err != nil {
		t.Fatal(err)
	}
	staff := &store.Visit{Lane: "1", Method: "staff", PersonKey: pkey(1), MaskedName: "王*", Outcome: "PASS", Reason: "staff_override",
		StaffID: "7", Overrides: manual.ID, Note: "elderly_no_phone"}
	if err := k.db.Append(bg, staff); err != nil {
		t.Fatal(err)
	}
	if _, err := k.c.Push(bg); err != nil {
		t.Fatal(err)
	}
	sameVisits(t, h.hub, k.db)
	var got hub.VisitRecord
	h.hub.Visits(bg, time.Time{}, func(v hub.VisitRecord) error {
		if v.ID == staff.ID {
			got = v
		}
		return nil
	})
	if got.Method != "staff" || got.StaffID != "7" || got.Overrides != manual.ID || got.Note != "elderly_no_phone" || got.Outcome != "PASS" {
		t.Errorf("at the hub: %+v", got)
	}
}

// TestForeignTrustListReplaced: a kiosk moved to another platform (or an old --sim data
// directory) holds a trust list the pinned root never signed, with a higher seq; it is replaced.
func TestForeignTrustListReplaced(t *testing.T) {
	h := newHub(t, hub.Options{})
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	now := time.Now()
	if _, err := h.hub.AddIssuer(bg, signing.Issuer{ID: "X", Keys: []signing.IssuerKey{{Alg: signing.EdDSA, PublicKey: spki, NotBefore: now, NotAfter: now.Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	k := newKiosk(t)
	if err := k.db.PutTrustList(bg, 40, []byte(`{"payload":"e30=","alg":"EdDSA","kid":"AAAAAAAAAAA=","signature":"AA=="}`)); err != nil {
		t.Fatal(err)
	}
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	seq, doc, _ := k.db.TrustList(bg)
	v, _ := wire.NewVerifier(h.root())
	if _, err := v.OpenRoot(doc); err != nil || seq != 1 {
		t.Fatalf("held trust list seq %d: %v", seq, err)
	}
}
