package hub

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// TestIngestFullBatch: a batch of wire.MaxUploadRecords, inserted a chunk at a time (ingestChunk)
// with the held rows read back per chunk, follows the rule record by record, whichever chunk a
// record falls in: new IDs stored, held ones accepted as sent and refused with other content or
// from another device, an ID repeated in the batch compared with its first, and absent fields
// stored as NULL on both engines.
func TestIngestFullBatch(t *testing.T) { forBackends(t, testIngestFullBatch) }

func testIngestFullBatch(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	// What the hub holds first: 600 visits, some without temperature, sealed ID or person key,
	// some staff decisions, and a ticket.
	var held []wire.Record
	for i := range 600 {
		held = append(held, rec(uuid.Must(uuid.NewV7()).String(), func(r *wire.Record) {
			switch i % 4 {
			case 1:
				r.Visit.TempC = nil
			case 2:
				r.Visit.SealedID = []byte("sealed")
				r.Visit.PersonKey = nil
			case 3:
				staffDecision(r)
			}
		}))
	}
	ticket := wire.Record{ID: uuid.NewString(), Kind: "ticket", At: held[0].At, Body: json.RawMessage(`{"event":"issued","number":"A012"}`)}
	ack, err := h.Ingest(bg, "d-1", append(slices.Clone(held), ticket))
	if err != nil || len(ack.Accepted) != len(held)+1 || len(ack.Rejected) != 0 {
		t.Fatalf("first upload: %d accepted, %+v %v", len(ack.Accepted), ack.Rejected, err)
	}
	for _, c := range []struct {
		cond string
		want int
	}{
		{"temp_c IS NULL", 150},
		{"sealed_id IS NULL", 450},
		{"person_key IS NULL", 150},
		{"overrides IS NOT NULL", 150},
		{"note <> ''", 150},
	} {
		var n int
		if err := h.r.QueryRowContext(bg, `SELECT count(*) FROM visits WHERE `+c.cond).Scan(&n); err != nil || n != c.want {
			t.Errorf("%d visits with %s (%v), want %d", n, c.cond, err, c.want)
		}
	}

	// The full batch: retries of held visits, held ones with other content, new visits, repeats
	// of new visits in the batch (as sent and altered), a retried and a new ticket.
	var batch []wire.Record
	refuse := map[string]string{} // id → reason
	other := func(r wire.Record) wire.Record {
		v := *r.Visit
		v.Outcome, v.Reason = "DENY", "fever"
		r.Visit = &v
		return r
	}
	for i := 0; i < 600; i += 2 {
		batch = append(batch, held[i])
	}
	for i := 1; i < 600; i += 30 {
		batch = append(batch, other(held[i]))
		refuse[held[i].ID] = conflictContent
	}
	var fresh []wire.Record
	for range 1000 - len(batch) - 22 {
		fresh = append(fresh, rec(uuid.Must(uuid.NewV7()).String(), nil))
	}
	batch = append(batch, fresh...)
	for i := range 10 {
		batch = append(batch, fresh[i*60])
		batch = append(batch, other(fresh[i*60+1]))
		refuse[fresh[i*60+1].ID] = conflictContent
	}
	ticket.Body = json.RawMessage(`{ "number": "A012", "event": "issued" }`)
	batch = append(batch, ticket, wire.Record{ID: uuid.NewString(), Kind: "ticket", At: held[0].At, Body: json.RawMessage(`{}`)})
	if len(batch) != wire.MaxUploadRecords {
		t.Fatalf("batch of %d", len(batch))
	}
	ack, err = h.Ingest(bg, "d-1", batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.Accepted)+len(ack.Rejected) != len(batch) || len(ack.Rejected) != len(refuse) {
		t.Fatalf("%d accepted, %d rejected, want %d rejected", len(ack.Accepted), len(ack.Rejected), len(refuse))
	}
	for _, r := range ack.Rejected {
		if want, ok := refuse[r.ID]; !ok || r.Reason != want {
			t.Errorf("rejected %s: %q, want %q", r.ID, r.Reason, want)
		}
	}
	// From another device, every held ID is refused, whatever chunk it is in.
	ack, err = h.Ingest(bg, "d-2", held[:wire.MaxUploadRecords/2])
	if err != nil || len(ack.Accepted) != 0 || len(ack.Rejected) != wire.MaxUploadRecords/2 {
		t.Fatalf("from d-2: %d accepted, %d rejected, %v", len(ack.Accepted), len(ack.Rejected), err)
	}
	for _, r := range ack.Rejected {
		if r.Reason != conflictDevice {
			t.Fatalf("from d-2: %s %q", r.ID, r.Reason)
		}
	}
	// The held rows are the first ones.
	var visits, denied int
	err = h.Visits(bg, wire.FromUnixMS(0), func(v VisitRecord) error {
		visits++
		if v.Outcome != "PASS" || v.Device != "d-1" {
			denied++
		}
		return nil
	})
	if err != nil || visits != len(held)+len(fresh) || denied != 0 {
		t.Fatalf("%d visits stored (%v), want %d; %d changed", visits, err, len(held)+len(fresh), denied)
	}
	var tickets int
	if err := h.r.QueryRowContext(bg, `SELECT count(*) FROM records WHERE kind = 'ticket'`).Scan(&tickets); err != nil || tickets != 2 {
		t.Fatalf("%d tickets (%v), want 2", tickets, err)
	}
}
