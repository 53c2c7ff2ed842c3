package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// pgSchema is schema for PostgreSQL, step for step: pgSchema[i] brings a database to the same
// version as schema[i]. Append to both, never edit an entry. Times are milliseconds (bigint),
// byte strings bytea, and temperatures double precision, as SQLite stores them.
var pgSchema = []string{
	// 1: initial schema.
	`
CREATE TABLE streams (
	name    text   PRIMARY KEY,
	seq     bigint NOT NULL,
	min_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO streams (name, seq) VALUES ('status', 0), ('trust', 0), ('revoked', 0), ('policy', 0);

CREATE TABLE epochs (
	epoch      bigint PRIMARY KEY,
	key        bytea  NOT NULL CHECK (length(key) = 32),
	created_at bigint NOT NULL,
	current    bigint NOT NULL DEFAULT 0
);

CREATE TABLE status (
	epoch      bigint NOT NULL,
	person_key bytea  NOT NULL CHECK (length(person_key) = 32),
	seq        bigint NOT NULL,
	status     bigint NOT NULL CHECK (status BETWEEN 0 AND 3),
	as_of      bigint NOT NULL,
	expires    bigint NOT NULL,
	reason     text   NOT NULL DEFAULT '',
	sealed_id  bytea,
	deleted    bigint NOT NULL DEFAULT 0,
	changed_at bigint NOT NULL,
	PRIMARY KEY (epoch, person_key)
);
CREATE INDEX status_seq ON status (epoch, seq);

CREATE TABLE partitions (
	epoch     bigint NOT NULL,
	partition bigint NOT NULL,
	count     bigint NOT NULL,
	digest    bytea  NOT NULL,
	PRIMARY KEY (epoch, partition)
);

CREATE TABLE tokens (
	hash       bytea  PRIMARY KEY,
	hall       text   NOT NULL,
	lanes      bigint NOT NULL,
	created_at bigint NOT NULL,
	expires    bigint NOT NULL,
	used_at    bigint NOT NULL DEFAULT 0,
	device     text   NOT NULL DEFAULT ''
);

CREATE TABLE devices (
	id            text   PRIMARY KEY,
	hall          text   NOT NULL,
	lanes         bigint NOT NULL,
	serial        text   NOT NULL,
	public_key    bytea  NOT NULL,
	enrolled_at   bigint NOT NULL,
	cert_expires  bigint NOT NULL,
	last_seen     bigint NOT NULL DEFAULT 0,
	outbox_depth  bigint NOT NULL DEFAULT 0,
	outbox_oldest bigint NOT NULL DEFAULT 0,
	software      text   NOT NULL DEFAULT '',
	revoked_at    bigint NOT NULL DEFAULT 0
);

CREATE TABLE issuers (
	id         text   PRIMARY KEY,
	entry      bytea  NOT NULL,
	revoked_at bigint NOT NULL DEFAULT 0
);

CREATE TABLE trust (
	seq bigint PRIMARY KEY,
	doc bytea  NOT NULL
);

CREATE TABLE revoked (
	cid     bytea  PRIMARY KEY CHECK (length(cid) = 16),
	expires bigint NOT NULL,
	seq     bigint NOT NULL
);
CREATE INDEX revoked_seq ON revoked (seq);

CREATE TABLE policy (
	version bigint PRIMARY KEY,
	doc     bytea  NOT NULL
);

CREATE TABLE visits (
	id          bytea  PRIMARY KEY CHECK (length(id) = 16),
	device      text   NOT NULL,
	received_at bigint NOT NULL,
	at          bigint NOT NULL,
	lane        text   NOT NULL,
	method      text   NOT NULL,
	person_key  bytea,
	sealed_id   bytea,
	masked_name text   NOT NULL,
	temp_c      double precision,
	outcome     text   NOT NULL,
	reason      text   NOT NULL
);
CREATE INDEX visits_at ON visits (at);

CREATE TABLE records (
	id          bytea  PRIMARY KEY CHECK (length(id) = 16),
	kind        text   NOT NULL,
	device      text   NOT NULL,
	received_at bigint NOT NULL,
	at          bigint NOT NULL,
	body        bytea  NOT NULL
);
`,
	// 2: staff overrides.
	`
ALTER TABLE visits ADD COLUMN staff_id  text NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN overrides bytea CHECK (overrides IS NULL OR length(overrides) = 16);
ALTER TABLE visits ADD COLUMN note      text NOT NULL DEFAULT '';
CREATE INDEX visits_overrides ON visits (overrides) WHERE overrides IS NOT NULL;
`,
	// 3: telemetry.
	`
ALTER TABLE devices ADD COLUMN telemetry    bytea;
ALTER TABLE devices ADD COLUMN telemetry_at bigint NOT NULL DEFAULT 0;
CREATE TABLE telemetry (
	device      text   NOT NULL,
	received_at bigint NOT NULL,
	report      bytea  NOT NULL,
	PRIMARY KEY (device, received_at)
);
CREATE INDEX telemetry_received ON telemetry (received_at);
`,
	// 4: the operators' dashboard.
	`
CREATE TABLE operators (
	name       text   PRIMARY KEY,
	hash       text   NOT NULL,
	created_at bigint NOT NULL
);
CREATE TABLE operator_lockout (
	key          text   PRIMARY KEY,
	failed       bigint NOT NULL DEFAULT 0,
	locked_until bigint NOT NULL DEFAULT 0,
	streak       bigint NOT NULL DEFAULT 0,
	last_at      bigint NOT NULL
);
CREATE TABLE operator_sessions (
	hash     bytea  PRIMARY KEY,
	operator text   NOT NULL,
	csrf     text   NOT NULL,
	seen_at  bigint NOT NULL
);
ALTER TABLE revoked ADD COLUMN revoked_at bigint NOT NULL DEFAULT 0;
ALTER TABLE policy ADD COLUMN published_at bigint NOT NULL DEFAULT 0;
CREATE INDEX records_kind_at ON records (kind, at);
`,
	// 5: snapshots read live rows in key order. Person keys are random, so the rows of a key range
	// lie all over the table: through the primary key that is a heap page per row (10,000,000
	// persons: 114 ms a chunk, 5 minutes a snapshot). With the row's fields in the index the
	// chunk is an index-only scan of a few dozen pages.
	`
CREATE INDEX status_live ON status (epoch, person_key) INCLUDE (status, as_of, expires, reason) WHERE deleted = 0;
`,
	// 6: the hourly prune (PruneBefore) reads max(seq) of the tombstones older than the retention
	// and deletes them while holding the status stream's lock: without an index that is a scan of
	// the whole table (10,000,000 persons: every row read, every hour). Tombstones are few; a
	// partial index over them, seq included, answers both statements from the index.
	`
CREATE INDEX status_tombstones ON status (changed_at, seq) WHERE deleted = 1;
`,
}

// pgMigrateLock is the advisory lock key that makes replicas starting together migrate one at a
// time ("onepass" in ASCII).
const pgMigrateLock = 0x6f6e6570617373

// migratePG brings a PostgreSQL database to len(steps), recording the version in schema_version.
// Each step runs in its own transaction under an advisory lock, so replicas starting at once
// apply it once; a database newer than this build is refused.
func migratePG(ctx context.Context, p *sql.DB, steps []string) error {
	for {
		done, err := migratePGOne(ctx, p, steps)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func migratePGOne(ctx context.Context, p *sql.DB, steps []string) (done bool, err error) {
	tx, err := p.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrateLock)); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version bigint NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrate: schema_version: %w", err)
	}
	var v int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return false, fmt.Errorf("migrate: schema_version: %w", err)
		}
	case err != nil:
		return false, fmt.Errorf("migrate: read schema_version: %w", err)
	}
	switch {
	case v == len(steps):
		return true, tx.Commit()
	case v > len(steps) || v < 0:
		return false, fmt.Errorf("migrate: hub database version %d is newer than this build knows (%d)", v, len(steps))
	}
	if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = $1`, v+1); err != nil {
		return false, fmt.Errorf("migrate to version %d: set schema_version: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to version %d: commit: %w", v+1, err)
	}
	return false, nil
}
