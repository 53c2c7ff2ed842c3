package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

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
	// 3: telemetry: each device's latest report (wire.Telemetry JSON) and a short history.
	`
ALTER TABLE devices ADD COLUMN telemetry    BLOB;
ALTER TABLE devices ADD COLUMN telemetry_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE telemetry (
	device      TEXT    NOT NULL,
	received_at INTEGER NOT NULL,
	report      BLOB    NOT NULL,
	PRIMARY KEY (device, received_at)
) WITHOUT ROWID;
CREATE INDEX telemetry_received ON telemetry (received_at);
`,
	// 4: the operators' dashboard (/admin/): operator accounts (bcrypt hashes), their failed-login
	// counters and sessions, kept in the database so every replica agrees on them and a restart
	// neither unlocks a name nor logs anyone out; when a code revocation and a policy version were
	// made, for the audit page; ticket events found by time.
	`
CREATE TABLE operators (
	name       TEXT    PRIMARY KEY,
	hash       TEXT    NOT NULL,      -- bcrypt of the password: never the password
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE operator_lockout (
	key          TEXT    PRIMARY KEY, -- "u:<name>" (or "u:#<hash bucket>") or "ip:<address>"
	failed       INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0,
	streak       INTEGER NOT NULL DEFAULT 0,
	last_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE operator_sessions (
	hash     BLOB    PRIMARY KEY,     -- SHA-256 of the cookie: a database dump logs nobody in
	operator TEXT    NOT NULL,
	csrf     TEXT    NOT NULL,
	seen_at  INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE revoked ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policy ADD COLUMN published_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX records_kind_at ON records (kind, at);
`,
	// 5: nothing: PostgreSQL's step adds a covering index for snapshots; here the status table
	// is WITHOUT ROWID, stored in key order already.
	`SELECT 1;`,
	// 6: the hourly prune finds old tombstones (and the newest seq among them) through the few
	// rows that are tombstones, not by scanning the whole status table under the stream's lock.
	`
CREATE INDEX status_tombstones ON status (changed_at, seq) WHERE deleted = 1;
`,
}

// busyTimeout is how long a write waits for another process's lock (an admin command while
// the hub serves).
const busyTimeout = 10 * time.Second

// pgConnectTimeout bounds opening a PostgreSQL connection when the URL sets no connect_timeout.
const pgConnectTimeout = 5 * time.Second

// IsPostgres reports whether a database URL names PostgreSQL (postgres:// or postgresql://);
// "" is the SQLite file in the data directory.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// CheckDB says what is wrong with a database URL before anything opens it.
func CheckDB(url string) error {
	if url != "" && !IsPostgres(url) {
		return fmt.Errorf("hub: database %q: want postgres://USER@HOST/DB… (PostgreSQL), or none for the SQLite file in the data directory", redactURL(url))
	}
	return nil
}

// redactURL hides a password in a URL shown in an error or a log.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	auth, host, ok := strings.Cut(rest, "@")
	if !ok {
		return u
	}
	if user, _, ok := strings.Cut(auth, ":"); ok {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return u
}

// db is the hub's database: the SQLite file (one writer connection beside a reader pool) or
// PostgreSQL shared by every replica (a pool of writers beside a pool of readers). Queries are written once, with ? placeholders and SQL
// both engines accept; on PostgreSQL they are rebound to $n.
type db struct {
	w, r *sql.DB
	pg   bool
}

// openDB opens and migrates the database: PostgreSQL when url says so, else dir/hub.db.
func openDB(ctx context.Context, dir, url string) (*db, error) {
	if err := CheckDB(url); err != nil {
		return nil, err
	}
	if IsPostgres(url) {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", redactURL(url), err)
		}
		if cfg.ConnectTimeout == 0 {
			// A database host that does not answer is a 503 in seconds, not after the kernel's
			// TCP timeout with every request waiting on it.
			cfg.ConnectTimeout = pgConnectTimeout
		}
		// Two pools, as on SQLite: writes never wait behind reads. With one pool of 16, a
		// thousand kiosks pulling back to back held every connection and not one status change
		// committed in 10 s (BenchmarkFleetPoll/max).
		r, w := pgPool(cfg, pgReadConns), pgPool(cfg, pgWriteConns)
		if err := migratePG(ctx, w, pgSchema); err != nil {
			r.Close()
			w.Close()
			return nil, fmt.Errorf("%s: %w", redactURL(url), err)
		}
		return &db{w: w, r: r, pg: true}, nil
	}
	path := filepath.Join(dir, "hub.db")
	w, err := sqlitedb.OpenWriter(path, busyTimeout)
	if err != nil {
		return nil, err
	}
	if err := sqlitedb.Migrate(ctx, w, schema, "hub database"); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sqlitedb.OpenReaders(ctx, path, busyTimeout, 4)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &db{w: w, r: r}, nil
}

// Connections per replica to PostgreSQL: the readers (heads, deltas, snapshots, the dashboard)
// and, apart, the writers (status, ingest, device activity), 20 in all.
const (
	pgReadConns  = 12
	pgWriteConns = 8
)

// pgPool opens a pool of at most n connections.
func pgPool(cfg *pgx.ConnConfig, n int) *sql.DB {
	p := stdlib.OpenDB(*cfg)
	// Connections die with a PostgreSQL restart: idle ones are dropped before they are reused
	// stale, and the pool opens new ones once the server is back. Busy, the pool keeps what it
	// opened: a connection closed as soon as it goes idle is a PostgreSQL backend started again
	// for the next request (under 32 concurrent pushes, that churn tripled the database's CPU per
	// stored visit).
	p.SetMaxOpenConns(n)
	p.SetMaxIdleConns(n)
	p.SetConnMaxIdleTime(time.Minute)
	return p
}

func (d *db) close() error {
	return errors.Join(d.r.Close(), d.w.Close())
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, …; our queries hold no ? in literals.
func rebind(pg bool, q string) string {
	if !pg || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// conn is a pool (the writer or the readers) that rebinds its queries.
type conn struct {
	*sql.DB
	pg bool
}

func (c conn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.DB.QueryRowContext(ctx, rebind(c.pg, q), args...)
}

func (c conn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.DB.QueryContext(ctx, rebind(c.pg, q), args...)
}

func (c conn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.DB.ExecContext(ctx, rebind(c.pg, q), args...)
}

// dbTx is a transaction that rebinds its queries.
type dbTx struct {
	*sql.Tx
	pg bool
}

func (t *dbTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, rebind(t.pg, q), args...)
}

func (t *dbTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, rebind(t.pg, q), args...)
}

func (t *dbTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, rebind(t.pg, q), args...)
}

func (t *dbTx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.Tx.PrepareContext(ctx, rebind(t.pg, q))
}

// maxTxAttempts bounds the retries of a write transaction that PostgreSQL aborted to keep it
// serializable against another replica's.
const maxTxAttempts = 10

// inTx runs fn in one write transaction and commits. On SQLite the one writer connection
// serializes writes. On PostgreSQL, where several replicas write at once, the transaction is
// SERIALIZABLE (a token used once, the first epoch made once): consistency rests on the database,
// not on anything in this process. A transaction PostgreSQL aborted (serialization failure,
// deadlock) is run again, so fn must set what it returns afresh on each call. Writers of a
// stream use streamTx.
func (h *Hub) inTx(ctx context.Context, fn func(*dbTx) error) error {
	return h.inTxAt(ctx, sql.LevelSerializable, fn)
}

// streamTx runs fn in a write transaction that first locks the row of stream name (status, trust,
// revoked, policy) in streams. Every writer of a stream goes through it, so on PostgreSQL those
// writers queue on the row lock instead of failing each other's SERIALIZABLE transactions: at
// READ COMMITTED each statement after the lock sees what the previous holder committed, and the
// stream's sequence numbers, partition digests and issuers are read and written by one writer at
// a time, whichever replica runs it. (SQLite's one writer serializes anyway.)
func (h *Hub) streamTx(ctx context.Context, name string, fn func(*dbTx) error) error {
	return h.inTxAt(ctx, sql.LevelReadCommitted, func(tx *dbTx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE streams SET seq = seq WHERE name = ?`, name); err != nil {
			return fmt.Errorf("lock stream %s: %w", name, err)
		}
		return fn(tx)
	})
}

// inTxAt is inTx at another isolation level on PostgreSQL (SQLite's one writer serializes
// anyway).
func (h *Hub) inTxAt(ctx context.Context, level sql.IsolationLevel, fn func(*dbTx) error) error {
	if !h.db.pg {
		return sqlitedb.InTx(ctx, h.db.w, func(tx *sql.Tx) error { return fn(&dbTx{Tx: tx}) })
	}
	for attempt := 1; ; attempt++ {
		err := h.pgTx(ctx, level, fn)
		if err == nil || !retryable(err) || attempt == maxTxAttempts || ctx.Err() != nil {
			return err
		}
		// A short, growing pause spreads the replicas that collided.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
}

func (h *Hub) pgTx(ctx context.Context, level sql.IsolationLevel, fn func(*dbTx) error) error {
	tx, err := h.db.w.BeginTx(ctx, &sql.TxOptions{Isolation: level})
	if err != nil {
		return err
	}
	if err := fn(&dbTx{Tx: tx, pg: true}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// retryable reports a PostgreSQL serialization failure or deadlock: the transaction may succeed
// when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// readTx runs fn in one read transaction: a consistent snapshot of the database (on PostgreSQL
// REPEATABLE READ, so a head and the rows read after it agree).
func (h *Hub) readTx(ctx context.Context, fn func(*dbTx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if h.db.pg {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := h.db.r.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(&dbTx{Tx: tx, pg: h.db.pg})
}
