package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"onepass/sync/wire"
)

// testHash stands in for the protocol's row hash.
func testHash(r StatusRow) [16]byte {
	h := sha256.New()
	h.Write(r.PersonKey)
	binary.Write(h, binary.BigEndian, int64(r.Status))
	binary.Write(h, binary.BigEndian, wire.UnixMS(r.AsOf))
	binary.Write(h, binary.BigEndian, wire.UnixMS(r.Expires))
	h.Write([]byte(r.Reason))
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

func row(i, status int) StatusRow {
	return StatusRow{PersonKey: key(i), Status: status, AsOf: time.UnixMilli(int64(1_700_000_000_000 + i)).UTC(), Reason: "r"}
}

// checkDigests compares the kept digests with a full re-hash of the rows.
func checkDigests(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	kc, ks, err := s.StatusDigests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc, ss, err := s.ScanStatusDigests(ctx, testHash)
	if err != nil {
		t.Fatal(err)
	}
	if kc != sc || ks != ss {
		t.Fatal("kept digests differ from the rows")
	}
}

func TestApplyStatusKeepsDigests(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var puts []StatusRow
	for i := range 600 {
		puts = append(puts, row(i, 1+i%3))
	}
	if err := s.ApplyStatus(ctx, StatusChange{Put: puts, Meta: map[string][]byte{"cursor": []byte("1")}}, testHash); err != nil {
		t.Fatal(err)
	}
	checkDigests(t, s)
	// Changes, re-puts of the same rows, deletes of present and absent keys.
	ch := StatusChange{Put: []StatusRow{row(1, 3), row(2, 2), row(700, 1)}, Delete: [][]byte{key(3), key(9999)}}
	for range 2 { // applying a chunk twice (a crash before the cursor moved) changes nothing more
		if err := s.ApplyStatus(ctx, ch, testHash); err != nil {
			t.Fatal(err)
		}
		checkDigests(t, s)
	}
	if n, _ := s.StatusCount(ctx); n != 600 {
		t.Fatalf("%d rows", n)
	}
	if v, ok, _ := s.Meta(ctx, "cursor"); !ok || string(v) != "1" {
		t.Fatal("meta not written with the change")
	}
	// A snapshot chunk replaces its range and nothing else.
	lo, hi := []byte{0x40}, []byte{0x80}
	var inRange, replaced []StatusRow
	for i := range 601 {
		if k := key(i); bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0 {
			inRange = append(inRange, row(i, 1))
		}
	}
	replaced = inRange[:len(inRange)/2]
	if err := s.ApplyStatus(ctx, StatusChange{Replace: true, Lo: lo, Hi: hi, Put: replaced}, testHash); err != nil {
		t.Fatal(err)
	}
	checkDigests(t, s)
	n, _ := s.StatusCount(ctx)
	if want := 600 - len(inRange) + len(replaced); n != want {
		t.Fatalf("%d rows after replacing a range, want %d", n, want)
	}
	// An invalid row fails the whole change.
	bad := StatusChange{Put: []StatusRow{row(5000, 1), {PersonKey: []byte{1}, Status: 1}}}
	if err := s.ApplyStatus(ctx, bad, testHash); err == nil {
		t.Fatal("short key accepted")
	}
	if _, ok, _ := s.Status(ctx, key(5000)); ok {
		t.Fatal("half a change applied")
	}
}

func TestRecountRepairs(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var puts []StatusRow
	for i := range 300 {
		puts = append(puts, row(i, 1))
	}
	s.ApplyStatus(ctx, StatusChange{Put: puts}, testHash)
	// Rows changed behind the digests' back, in partition p.
	p := int(key(0)[0])
	s.PutStatus(ctx, row(0, 3))
	kc, ks, _ := s.StatusDigests(ctx)
	sc, ss, _ := s.ScanStatusDigests(ctx, testHash)
	if ks[p] == ss[p] || kc != sc {
		t.Fatal("the tampering did not show in the scan")
	}
	// Re-fetching partition p with Recount fixes it, whatever the kept digest said.
	var part []StatusRow
	for i := range 300 {
		if int(key(i)[0]) == p {
			part = append(part, row(i, 1))
		}
	}
	lo, hi := []byte{byte(p)}, []byte{byte(p + 1)}
	if err := s.ApplyStatus(ctx, StatusChange{Replace: true, Recount: true, Lo: lo, Hi: hi, Put: part}, testHash); err != nil {
		t.Fatal(err)
	}
	checkDigests(t, s)
	// An empty partition whose kept digest is stale is recounted to zero.
	if _, err := s.w.Exec(`INSERT OR REPLACE INTO status_digest (partition, count, digest) VALUES (?, 5, ?)`, 0, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	s.w.Exec(`DELETE FROM status WHERE person_key < x'01'`)
	if err := s.ApplyStatus(ctx, StatusChange{Replace: true, Recount: true, Lo: []byte{0}, Hi: []byte{1}}, testHash); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := s.StatusDigests(ctx); c[0] != 0 {
		t.Fatalf("partition 0 count %d after recount", c[0])
	}
}

func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := &Visit{Lane: "1", Method: "card", MaskedName: "张*", Outcome: "PASS", Reason: "ok"}
	if err := s.Append(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := s.Quarantine(ctx, KindVisit, v.ID, "bad method", time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxDepth(ctx); n != 0 {
		t.Fatalf("outbox %d after quarantine", n)
	}
	q, err := s.QuarantinedRecords(ctx, 10)
	if err != nil || len(q) != 1 || q[0].ID != v.ID || q[0].Reason != "bad method" || q[0].Kind != KindVisit {
		t.Fatalf("quarantine: %+v %v", q, err)
	}
	if vs, _ := s.Recent(ctx, 10); len(vs) != 1 {
		t.Fatal("the visit itself must stay")
	}
	if err := s.Quarantine(ctx, "selfie", v.ID, "", time.Now()); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if n, _ := s.QuarantineCount(ctx); n != 1 {
		t.Fatalf("count %d", n)
	}
}

func TestAppendBatchAndOldest(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, ok, err := s.OutboxOldest(ctx); ok || err != nil {
		t.Fatalf("empty outbox: %v %v", ok, err)
	}
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	vs := []*Visit{
		{At: t0, Lane: "1", Method: "card", MaskedName: "a", Outcome: "PASS", Reason: "ok"},
		{At: t0.Add(time.Second), Lane: "1", Method: "card", MaskedName: "b", Outcome: "DENY", Reason: "fever", TempC: ptr(38.2)},
	}
	if err := s.AppendBatch(ctx, vs); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Pending(ctx, 10)
	if len(p) != 2 || p[0].ID != vs[0].ID || p[1].ID != vs[1].ID || *p[1].TempC != 38.2 {
		t.Fatalf("pending: %+v", p)
	}
	if at, ok, err := s.OutboxOldest(ctx); !ok || err != nil || !at.Equal(t0) {
		t.Fatalf("oldest %v %v %v", at, ok, err)
	}
	dup := []*Visit{{ID: vs[0].ID, Lane: "1", Method: "card", Outcome: "PASS"}}
	if err := s.AppendBatch(ctx, dup); err == nil {
		t.Fatal("duplicate id appended")
	}
}

func TestReplaceTrustList(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.PutTrustList(ctx, 9, []byte("other root"))
	if err := s.PutTrustList(ctx, 1, []byte("ours")); !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback: %v", err)
	}
	if err := s.ReplaceTrustList(ctx, 1, []byte("ours")); err != nil {
		t.Fatal(err)
	}
	if seq, doc, _ := s.TrustList(ctx); seq != 1 || string(doc) != "ours" {
		t.Fatalf("held %d %s", seq, doc)
	}
}
