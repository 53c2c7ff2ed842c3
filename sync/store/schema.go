package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each in its own transaction; after
// migrations[i] the database's PRAGMA user_version is i+1. Never edit or
// reorder a released entry: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE status (
	person_key BLOB    PRIMARY KEY CHECK (length(person_key) = 32), -- HMAC-SHA256
	status     INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),    -- unknown, green, yellow, red
	as_of      INTEGER NOT NULL,                                    -- unix ms
	expires    INTEGER NOT NULL,                                    -- unix ms, 0 = none
	reason     TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Single-row tables: the current document only.
CREATE TABLE trust_list (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	seq        INTEGER NOT NULL,
	doc        BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE policy (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	version    INTEGER NOT NULL,
	doc        BLOB    NOT NULL,
	valid_from INTEGER NOT NULL
);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE visits (
	id          BLOB    PRIMARY KEY CHECK (length(id) = 16), -- UUIDv7 bytes
	at          INTEGER NOT NULL,                            -- unix ms UTC
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

-- seq keeps insertion order, so upload order does not depend on the clock.
-- No ON DELETE action: a visit cannot be removed while it waits in the outbox.
CREATE TABLE outbox (
	seq      INTEGER PRIMARY KEY,
	visit_id BLOB    NOT NULL UNIQUE REFERENCES visits (id)
);
`,
	// 2: revoked health codes (the sync "revoked" stream; kiosk/healthcode checks it).
	`
CREATE TABLE revoked (
	cid     BLOB    PRIMARY KEY CHECK (length(cid) = 16), -- JKM1 code ID
	expires INTEGER NOT NULL                              -- unix ms; the row may go after this
) WITHOUT ROWID;
`,
}

// migrate brings the schema to len(migrations). Each step re-reads
// user_version inside its write transaction, so two processes opening the
// same file at once cannot apply a step twice.
func migrate(ctx context.Context, db *sql.DB) error {
	for {
		done, err := migrateOne(ctx, db)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func migrateOne(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: read user_version: %w", err)
	}
	switch {
	case v == len(migrations):
		return true, nil
	case v > len(migrations) || v < 0:
		return false, fmt.Errorf("migrate: schema version %d is newer than this build knows (%d)", v, len(migrations))
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	// PRAGMA takes no bound parameters; v is an int from our own slice.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migrate to version %d: set user_version: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to version %d: commit: %w", v+1, err)
	}
	return false, nil
}
