package client

import (
	"bytes"
	"encoding/json"
	"testing"

	"onepass/sync/wire"
)

func TestCheckDelta(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	digests := make([]byte, wire.Partitions*wire.PartitionDigestSz)
	st := statusState{Epoch: 1, Seq: 10}
	ok := wire.StatusDelta{Epoch: 1, From: 10, To: 12, Ops: []wire.StatusOp{{Key: k1, Status: 3}, {Key: k2, Del: true}}, PartitionDigests: digests}
	tests := []struct {
		name string
		mod  func(*wire.StatusDelta)
		want string
	}{
		{"good", func(*wire.StatusDelta) {}, ""},
		{"snapshot", func(d *wire.StatusDelta) { d.SnapshotRequired, d.Epoch = true, 9 }, ""},
		{"other epoch", func(d *wire.StatusDelta) { d.Epoch = 2 }, "epoch"},
		{"other cursor", func(d *wire.StatusDelta) { d.From = 9 }, "replayed"},
		{"backwards", func(d *wire.StatusDelta) { d.To = 5 }, "sequence range"},
		{"more without progress", func(d *wire.StatusDelta) { d.To, d.More, d.Ops = 10, true, nil }, "sequence range"},
		{"repeated key", func(d *wire.StatusDelta) { d.Ops[1].Key = k1 }, "repeats"},
		{"bad op", func(d *wire.StatusDelta) { d.Ops[0].Status = 9 }, "out of range"},
		{"no digests at the end", func(d *wire.StatusDelta) { d.PartitionDigests = nil }, "partition digests"},
	}
	for _, tc := range tests {
		d := ok
		d.Ops = append([]wire.StatusOp(nil), ok.Ops...)
		tc.mod(&d)
		err := checkDelta(d, st)
		if (err == nil) != (tc.want == "") || (err != nil && !bytes.Contains([]byte(err.Error()), []byte(tc.want))) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzCheckChunks: any decoded chunk is either refused or safe to apply: a delta that continues
// from the cursor, a snapshot whose rows lie in order inside the range asked for.
func FuzzCheckChunks(f *testing.F) {
	k := bytes.Repeat([]byte{5}, 32)
	d, _ := json.Marshal(wire.StatusDelta{Epoch: 1, From: 3, To: 4, Ops: []wire.StatusOp{{Key: k, Status: 1}}})
	s, _ := json.Marshal(wire.StatusSnapshot{Epoch: 1, Lo: []byte{5}, Hi: []byte{6}, Rows: []wire.StatusOp{{Key: k, Status: 2}}})
	f.Add(d)
	f.Add(s)
	f.Add([]byte(`{"epoch":1,"lo":"BQ==","hi":"Bg==","next":"BQ==","rows":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d wire.StatusDelta
		if json.Unmarshal(b, &d) == nil && checkDelta(d, statusState{Epoch: 1, Seq: 3}) == nil && !d.SnapshotRequired {
			if d.From != 3 || d.To < 3 {
				t.Fatalf("accepted delta %d–%d from cursor 3", d.From, d.To)
			}
		}
		var s wire.StatusSnapshot
		if json.Unmarshal(b, &s) == nil {
			if len(s.Next) == 0 {
				s.Next = nil
			}
			lo, hi := []byte{5}, []byte{6}
			if checkSnapshot(s, 1, lo, hi) == nil {
				for i, r := range s.Rows {
					if bytes.Compare(r.Key, lo) < 0 || bytes.Compare(r.Key, hi) >= 0 || (i > 0 && bytes.Compare(s.Rows[i-1].Key, r.Key) >= 0) {
						t.Fatalf("accepted snapshot row %x out of range or order", r.Key)
					}
				}
			}
		}
	})
}
