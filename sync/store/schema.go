package store

import ()

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
	// 3: queue tickets (kiosk/queue, see tickets.go and docs/queue.md). Ticket events go up
	// through the outbox like visits: the outbox is rebuilt so a row names either a visit or a
	// ticket event (exactly one), keeping seq and the visit rows as they were.
	`
CREATE TABLE tickets (
	id          BLOB    PRIMARY KEY CHECK (length(id) = 16), -- UUIDv7
	day         TEXT    NOT NULL,            -- business day YYYY-MM-DD (local, starting at the reset hour)
	number      TEXT    NOT NULL,            -- display number, A012
	origin      TEXT    NOT NULL,            -- the service that numbered it
	service     TEXT    NOT NULL,            -- the service whose queue holds it (a transfer changes it)
	priority    TEXT    NOT NULL DEFAULT '', -- '', elderly, disabled, pregnant
	source      TEXT    NOT NULL,            -- kiosk, staff, appointment
	visit_id    BLOB    UNIQUE,              -- the PASS it was taken after: one ticket per pass
	appointment TEXT    UNIQUE,              -- booking reference of a check-in: one check-in per booking
	slot        INTEGER NOT NULL DEFAULT 0,  -- booked slot start, unix ms
	state       TEXT    NOT NULL CHECK (state IN ('waiting', 'called', 'served', 'no_show', 'expired')),
	rank        INTEGER NOT NULL,            -- queue order of the day (issue order)
	issued_at   INTEGER NOT NULL,            -- unix ms
	called_at   INTEGER NOT NULL DEFAULT 0,  -- first call
	counter     TEXT    NOT NULL DEFAULT '',
	recalls     INTEGER NOT NULL DEFAULT 0,
	done_at     INTEGER NOT NULL DEFAULT 0,
	UNIQUE (day, number)                     -- a number is never reused within a day
) WITHOUT ROWID;
CREATE INDEX tickets_open ON tickets (state, day);
CREATE INDEX tickets_called ON tickets (day, called_at);

-- The last number given per business day and service; kept after the day's tickets close.
CREATE TABLE ticket_numbers (
	day     TEXT    NOT NULL,
	service TEXT    NOT NULL,
	last    INTEGER NOT NULL,
	PRIMARY KEY (day, service)
) WITHOUT ROWID;

-- What happened to a ticket, as uploaded: a copy of the ticket's fields at that moment.
CREATE TABLE ticket_events (
	id        BLOB    PRIMARY KEY CHECK (length(id) = 16), -- UUIDv7, the hub's de-duplication key
	ticket_id BLOB    NOT NULL REFERENCES tickets (id),
	at        INTEGER NOT NULL,
	kind      TEXT    NOT NULL, -- issued, called, recalled, transferred, served, no_show, expired
	day       TEXT    NOT NULL,
	number    TEXT    NOT NULL,
	service   TEXT    NOT NULL,
	from_svc  TEXT    NOT NULL DEFAULT '', -- transferred: the service it left
	counter   TEXT    NOT NULL DEFAULT '',
	priority  TEXT    NOT NULL DEFAULT '',
	source    TEXT    NOT NULL,
	slot      INTEGER NOT NULL DEFAULT 0,
	waited_ms INTEGER NOT NULL DEFAULT 0   -- issued → first call (or → close when never called)
) WITHOUT ROWID;

CREATE TABLE outbox_v3 (
	seq             INTEGER PRIMARY KEY,
	visit_id        BLOB    UNIQUE REFERENCES visits (id),
	ticket_event_id BLOB    UNIQUE REFERENCES ticket_events (id),
	CHECK ((visit_id IS NULL) != (ticket_event_id IS NULL))
);
INSERT INTO outbox_v3 (seq, visit_id) SELECT seq, visit_id FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;
`,
	// 4: sync state (sync/client, see syncstate.go and docs/sync-protocol.md): the status
	// replica's partition digests, kept per change and compared with the hub's signed head, and
	// the outbox records the hub refused (4xx), kept for the technician instead of dropped.
	`
CREATE TABLE status_digest (
	partition INTEGER PRIMARY KEY CHECK (partition BETWEEN 0 AND 255), -- first byte of the person key
	count     INTEGER NOT NULL,
	digest    BLOB    NOT NULL CHECK (length(digest) = 16)             -- sum mod 2^128 of row hashes
);
CREATE TABLE quarantine (
	id     BLOB    PRIMARY KEY CHECK (length(id) = 16), -- the visit or ticket event id
	kind   TEXT    NOT NULL,                            -- visit, ticket
	at     INTEGER NOT NULL,                            -- when the hub refused it, unix ms
	reason TEXT    NOT NULL                             -- the hub's reason
) WITHOUT ROWID;
`,
	// 5: visits written before the kiosk and the hub shared one rule (wire.CheckVisit). An
	// implausible reading (a hot cup, 99.9 °C) was stored as temp_c, which the hub refuses for
	// good: such visits lose temp_c (their reason, "remeasure", says what happened) and leave the
	// quarantine for the outbox. 0 and 60 are wire.MinTempC and wire.MaxTempC as released. A
	// two-character name was masked 张*三, hiding nothing: every CJK mask "X*Y" becomes "X**" (a
	// three-character name's mask loses its last character too: the two cannot be told apart).
	`
INSERT OR IGNORE INTO outbox (visit_id)
	SELECT q.id FROM quarantine q JOIN visits v ON v.id = q.id
	WHERE q.kind = 'visit' AND (v.temp_c < 0 OR v.temp_c > 60)
	ORDER BY v.at;
DELETE FROM quarantine WHERE kind = 'visit' AND id IN (SELECT id FROM visits WHERE temp_c < 0 OR temp_c > 60);
UPDATE visits SET temp_c = NULL WHERE temp_c < 0 OR temp_c > 60;
UPDATE visits SET masked_name = substr(masked_name, 1, 1) || '**'
	WHERE length(masked_name) = 3 AND substr(masked_name, 2, 1) = '*' AND substr(masked_name, 3, 1) != '*'
	AND unicode(masked_name) >= 11904; -- U+2E80, where identity.MaskName's CJK masking starts
`,
	// 6: staff overrides (kiosk/override.go): a staff member's decision on a MANUAL visit is a
	// visit of its own (method "staff") naming who decided and the visit it overrides. At most one
	// override per visit, so a double click at the console cannot log two decisions.
	`
ALTER TABLE visits ADD COLUMN staff_id  TEXT NOT NULL DEFAULT ''; -- method staff: who decided
ALTER TABLE visits ADD COLUMN overrides BLOB CHECK (overrides IS NULL OR length(overrides) = 16); -- the overridden visit's id
ALTER TABLE visits ADD COLUMN note      TEXT NOT NULL DEFAULT ''; -- method staff: the reason code chosen at the console
CREATE UNIQUE INDEX visits_overrides ON visits (overrides) WHERE overrides IS NOT NULL;
`,
	// 7: staff console lock-outs (ui/staff.go, see stafflockout.go): failed-login counters, lock
	// ends and each address's run of failures, so a restart does not unlock an ID. Keys are staff
	// IDs (not personal ID numbers) and client addresses; never a PIN. The console keeps the table
	// bounded: rows go lockout_for after their last failure, and at most a fixed number are kept.
	`
CREATE TABLE staff_lockout (
	key          TEXT    PRIMARY KEY,         -- "id:<staff ID as typed>" or "ip:<client address>"
	failed       INTEGER NOT NULL DEFAULT 0,  -- failures counted toward the lock-out
	locked_until INTEGER NOT NULL DEFAULT 0,  -- unix ms; 0 = not locked
	streak       INTEGER NOT NULL DEFAULT 0,  -- an address's failures in a row (the growing delay)
	last_at      INTEGER NOT NULL             -- the last failure, unix ms
) WITHOUT ROWID;
`,
}
