package store

// Meta keys shared by the kiosk (reader) and sync/client (writer).
const (
	// MetaReplicaIssuedAt is the issued_at of the last verified status head, as RFC 3339 text:
	// the replica's age is measured from it, not from the last change.
	MetaReplicaIssuedAt = "replica_issued_at"
	// MetaLastSync is when sync/client last completed an exchange with the hub, as RFC 3339 text
	// (GET /api/status and `onepassctl status` show it).
	MetaLastSync = "last_sync"
	// MetaClockSkew is the hub's clock minus the kiosk's in milliseconds (decimal text), measured
	// by sync/client from signed times at every pull.
	MetaClockSkew = "clock_skew_ms"
	// MetaTimeFloor is the latest signed hub time seen, as RFC 3339 text: trusted time never lies
	// before it, whatever the kiosk's clock says.
	MetaTimeFloor = "time_floor"
)
