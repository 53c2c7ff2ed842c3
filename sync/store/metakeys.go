package store

// Meta keys shared by the kiosk (reader) and sync/client (writer).
const (
	// MetaReplicaIssuedAt is the issued_at of the last verified status head, as RFC 3339 text:
	// the replica's age is measured from it, not from the last change.
	MetaReplicaIssuedAt = "replica_issued_at"
)
