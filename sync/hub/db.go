package hub

import (
	"context"
	"database/sql"
	"time"

	"onepass/sync/internal/sqlitedb"
)

// schema is the hub's database, migrated like the kiosk's: append entries, never edit one.
var schema = []string{
	// 1: initial schema.
	`
CREATE TABLE streams (
	name    TEXT    PRIMARY KEY,           -- status, trust, revoked, policy
	seq     INTEGER NOT NULL,
	min_seq INTEGER NOT NULL DEFAULT 0      -- status: tombstones up to here were pruned
) WITHOUT ROWID;
INSERT INTO streams (name, seq) VALUES ('status', 0), ('trust', 0), ('revoked', 0), ('policy', 0);

-- Deployment keys: the person-key HMAC key of each epoch.
CREATE TABLE epochs (
	epoch      INTEGER PRIMARY KEY,
	key        BLOB    NOT NULL CHECK (length(key) = 32),
	created_at INTEGER NOT NULL,
	current    INTEGER NOT NULL DEFAULT 0
);

-- The status list: person key (under the epoch's deployment key) and the ID sealed to the
-- platform key, never the ID number itself. deleted = a tombstone kept so deltas carry the removal.
CREATE TABLE status (
	epoch      INTEGER NOT NULL,
	person_key BLOB    NOT NULL CHECK (length(person_key) = 32),
	seq        INTEGER NOT NULL,
	status     INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
	as_of      INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	reason     TEXT    NOT NULL DEFAULT '',
	sealed_id  BLOB,
	deleted    INTEGER NOT NULL DEFAULT 0,
	changed_at INTEGER NOT NULL,
	PRIMARY KEY (epoch, person_key)
) WITHOUT ROWID;
CREATE INDEX status_seq ON status (epoch, seq);

CREATE TABLE partitions (
	epoch     INTEGER NOT NULL,
	partition INTEGER NOT NULL,
	count     INTEGER NOT NULL,
	digest    BLOB    NOT NULL,
	PRIMARY KEY (epoch, partition)
) WITHOUT ROWID;

CREATE TABLE tokens (
	hash       BLOB    PRIMARY KEY,   -- SHA-256 of the token: the token itself is shown once
	hall       TEXT    NOT NULL,
	lanes      INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0,
	device     TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE devices (
	id            TEXT    PRIMARY KEY,
	hall          TEXT    NOT NULL,
	lanes         INTEGER NOT NULL,
	serial        TEXT    NOT NULL,   -- the certificate serial this device must present
	public_key    BLOB    NOT NULL,   -- SubjectPublicKeyInfo DER: deployment keys are sealed to it
	enrolled_at   INTEGER NOT NULL,
	cert_expires  INTEGER NOT NULL,
	last_seen     INTEGER NOT NULL DEFAULT 0,
	outbox_depth  INTEGER NOT NULL DEFAULT 0,
	outbox_oldest INTEGER NOT NULL DEFAULT 0,
	software      TEXT    NOT NULL DEFAULT '',
	revoked_at    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE issuers (
	id         TEXT    PRIMARY KEY,
	entry      BLOB    NOT NULL,      -- the trust-list entry (JSON)
	revoked_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE trust (
	seq INTEGER PRIMARY KEY,
	doc BLOB    NOT NULL              -- the root-signed trust-list document
);

CREATE TABLE revoked (
	cid     BLOB    PRIMARY KEY CHECK (length(cid) = 16),
	expires INTEGER NOT NULL,
	seq     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_seq ON revoked (seq);

CREATE TABLE policy (
	version INTEGER PRIMARY KEY,
	doc     BLOB    NOT NULL          -- wire.PolicyVersion JSON
);

CREATE TABLE visits (
	id          BLOB    PRIMARY KEY CHECK (length(id) = 16),
	device      TEXT    NOT NULL,
	received_at INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	lane        TEXT    NOT NULL,
	method      TEXT    NOT NULL,
	person_key  BLOB,
	sealed_id   BLOB,
	masked_name TEXT    NOT NULL,
	temp_c      REAL,
	outcome     TEXT    NOT NULL,
	reason      TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX visits_at ON visits (at);

-- Other record kinds (queue ticket events, …) as uploaded.
CREATE TABLE records (
	id          BLOB    PRIMARY KEY CHECK (length(id) = 16),
	kind        TEXT    NOT NULL,
	device      TEXT    NOT NULL,
	received_at INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	body        BLOB    NOT NULL
) WITHOUT ROWID;
`,
	// 2: staff overrides: a staff member's decision (method "staff") names who decided, the
	// visit it overrides and the reason chosen at the console (wire.Visit).
	`
ALTER TABLE visits ADD COLUMN staff_id  TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN overrides BLOB CHECK (overrides IS NULL OR length(overrides) = 16);
ALTER TABLE visits ADD COLUMN note      TEXT NOT NULL DEFAULT '';
CREATE INDEX visits_overrides ON visits (overrides) WHERE overrides IS NOT NULL;
`,
}

// busyTimeout is how long a write waits for another process's lock (an admin command while
// the hub serves).
const busyTimeout = 10 * time.Second

// openDB opens the writer (one connection: writes queue in Go) and a reader pool.
func openDB(ctx context.Context, path string) (w, r *sql.DB, err error) {
	if w, err = sqlitedb.OpenWriter(path, busyTimeout); err != nil {
		return nil, nil, err
	}
	if err := sqlitedb.Migrate(ctx, w, schema, "hub database"); err != nil {
		w.Close()
		return nil, nil, err
	}
	if r, err = sqlitedb.OpenReaders(ctx, path, busyTimeout, 4); err != nil {
		w.Close()
		return nil, nil, err
	}
	return w, r, nil
}

// readTx runs fn in one read transaction: a consistent snapshot of the database.
func (h *Hub) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := h.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}
