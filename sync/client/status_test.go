package client_test

import (
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/sync/client"
	"onepass/sync/hub"
)

// TestReplicaStatusReadsTheStore: `onepassctl sync` (Client.Status) reports the replica the
// lane uses and `onepassctl status` shows (the database), also from a client that has not
// pulled yet, as after a restart while the hub is unreachable: not "never synced, epoch 0".
func TestReplicaStatusReadsTheStore(t *testing.T) {
	h := newHub(t, hub.Options{})
	putStatus(t, h.hub, 0, 300, 1)
	clock := clockwork.NewFakeClockAt(time.Now())
	useClock := func(c *client.Config) { c.Clock = clock }
	k := newKiosk(t)
	k.enroll(h, useClock)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	before := k.c.Status(bg)
	if before.ReplicaEpoch < 1 || before.ReplicaCount != 300 || before.ReplicaIssuedAt.IsZero() || before.ReplicaError != "" {
		t.Fatalf("status after a pull: %+v", before)
	}

	h.down()
	clock.Advance(21 * time.Second)
	k.connect(h, useClock) // the daemon restarts; the hub is gone
	after := k.c.Status(bg)
	issued, ok, err := k.db.ReplicaFreshness(bg)
	if err != nil || !ok {
		t.Fatalf("replica freshness in the database: %v %v", ok, err)
	}
	if after.ReplicaEpoch != before.ReplicaEpoch || after.ReplicaSeq != before.ReplicaSeq || after.ReplicaCount != 300 ||
		!after.ReplicaIssuedAt.Equal(issued) || after.ReplicaAge != clock.Since(issued).Seconds() || after.ReplicaAge < 20 {
		t.Errorf("status after a restart: epoch %d seq %d count %d, issued %s, age %.1fs; want epoch %d seq %d count 300, issued %s, age %.1fs",
			after.ReplicaEpoch, after.ReplicaSeq, after.ReplicaCount, after.ReplicaIssuedAt, after.ReplicaAge,
			before.ReplicaEpoch, before.ReplicaSeq, issued, clock.Since(issued).Seconds())
	}
}
