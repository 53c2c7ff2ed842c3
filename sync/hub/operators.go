package hub

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"

	"onepass/sync/wire"
)

// Operators are the people who may log in to the operators' dashboard (/admin/). Their
// accounts, failed-login counters and sessions live in the database, so every replica behind
// one address agrees on them and a restart neither unlocks a name nor ends a session.

// Operator is an operator account as listed; the password is known only as its bcrypt hash.
type Operator struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// operatorName is the shape of an operator's name: it starts with a letter, so no ID number
// typed into the name field can ever be one (and be stored in the clear as a counter's key).
var operatorName = regexp.MustCompile(`^[A-Za-z][0-9A-Za-z_.-]{0,31}$`)

// ValidOperatorName reports whether name can be an operator's name.
func ValidOperatorName(name string) bool { return operatorName.MatchString(name) }

// ErrOperatorExists is AddOperator's answer for a name already taken.
var ErrOperatorExists = errors.New("hub: operator already exists")

// AddOperator adds an operator with a bcrypt hash of their password.
func (h *Hub) AddOperator(ctx context.Context, name, hash string) error {
	if !ValidOperatorName(name) {
		return fmt.Errorf("hub: operator name %q: want a letter then up to 31 letters, digits, _ . -", name)
	}
	if hash == "" {
		return errors.New("hub: operator: empty password hash")
	}
	res, err := h.w.ExecContext(ctx, `INSERT INTO operators (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, hash, wire.UnixMS(h.now()))
	if err != nil {
		return fmt.Errorf("hub: add operator: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s (remove it first to set a new password)", ErrOperatorExists, name)
	}
	return nil
}

// RemoveOperator removes an operator and ends their sessions.
func (h *Hub) RemoveOperator(ctx context.Context, name string) error {
	return h.inTx(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM operators WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("hub: remove operator: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("hub: remove operator: no operator %q", name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE operator = ?`, name); err != nil {
			return fmt.Errorf("hub: remove operator's sessions: %w", err)
		}
		return nil
	})
}

// OperatorNameKey is the failed-login counter key of an operator's name (LoginCounter): the
// dashboard counts under it, SetOperatorPassword clears it.
func OperatorNameKey(name string) string { return "u:" + name }

// SetOperatorPassword replaces an operator's bcrypt hash, ends their sessions (whoever knew the
// old password is logged out) and clears their name's lock-out, in one transaction.
func (h *Hub) SetOperatorPassword(ctx context.Context, name, hash string) error {
	if hash == "" {
		return errors.New("hub: operator: empty password hash")
	}
	return h.inTx(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE operators SET hash = ? WHERE name = ?`, hash, name)
		if err != nil {
			return fmt.Errorf("hub: set operator password: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("hub: set operator password: no operator %q", name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE operator = ?`, name); err != nil {
			return fmt.Errorf("hub: end operator's sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_lockout WHERE key = ?`, OperatorNameKey(name)); err != nil {
			return fmt.Errorf("hub: clear operator's lock-out: %w", err)
		}
		return nil
	})
}

// Operators lists the operator accounts.
func (h *Hub) Operators(ctx context.Context) ([]Operator, error) {
	rows, err := h.r.QueryContext(ctx, `SELECT name, created_at FROM operators ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("hub: operators: %w", err)
	}
	defer rows.Close()
	var out []Operator
	for rows.Next() {
		var o Operator
		var at int64
		if err := rows.Scan(&o.Name, &at); err != nil {
			return nil, fmt.Errorf("hub: operators: %w", err)
		}
		o.CreatedAt = wire.FromUnixMS(at)
		out = append(out, o)
	}
	return out, rows.Err()
}

// OperatorHash is the bcrypt hash of an operator's password; ok is false for no such operator.
func (h *Hub) OperatorHash(ctx context.Context, name string) (hash string, ok bool, err error) {
	err = h.r.QueryRowContext(ctx, `SELECT hash FROM operators WHERE name = ?`, name).Scan(&hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("hub: operator: %w", err)
	}
	return hash, true, nil
}

// LoginCounter is one failed-login counter of the dashboard: per name as typed or per client
// address. It never holds a password.
type LoginCounter struct {
	Key    string
	Failed int       // failures counted toward the lock-out
	Until  time.Time // locked until; zero = not locked
	Streak int       // failures in a row (an address's growing delay)
	Last   time.Time // the last failure
}

// maxLoginCounters bounds the counters kept: guesses at made-up names from many addresses
// cannot grow the table without limit (the counters idle longest go first, lock-outs last).
const maxLoginCounters = 1000

// LoginCounter reads key's counter (the zero counter when there is none).
func (h *Hub) LoginCounter(ctx context.Context, key string) (LoginCounter, error) {
	c := LoginCounter{Key: key}
	var until, last int64
	err := h.r.QueryRowContext(ctx, `SELECT failed, locked_until, streak, last_at FROM operator_lockout WHERE key = ?`, key).
		Scan(&c.Failed, &until, &c.Streak, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return c, nil
	case err != nil:
		return c, fmt.Errorf("hub: login counter: %w", err)
	}
	c.Until, c.Last = wire.FromUnixMS(until), wire.FromUnixMS(last)
	return c, nil
}

// CountLoginFailure counts one failed login against key in one transaction (so replicas
// counting at once lose no count): Failed and Streak grow, and at limit the key is locked for
// lockFor (Failed starts again). A counter idle for forget is forgotten first; so are other
// idle counters, and the oldest past maxLoginCounters. count=false only adds to the streak (a
// locked key's attempt).
func (h *Hub) CountLoginFailure(ctx context.Context, key string, limit int, lockFor, forget time.Duration, count bool) (LoginCounter, error) {
	now := h.now()
	var c LoginCounter
	err := h.inTx(ctx, func(tx *dbTx) error {
		c = LoginCounter{Key: key}
		nowMS := wire.UnixMS(now)
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_lockout WHERE locked_until <= ? AND last_at <= ?`, nowMS, nowMS-forget.Milliseconds()); err != nil {
			return err
		}
		var until, last int64
		err := tx.QueryRowContext(ctx, `SELECT failed, locked_until, streak, last_at FROM operator_lockout WHERE key = ?`, key).
			Scan(&c.Failed, &until, &c.Streak, &last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM operator_lockout`).Scan(&n); err != nil {
				return err
			}
			if n >= maxLoginCounters {
				if _, err := tx.ExecContext(ctx, `DELETE FROM operator_lockout WHERE key IN
					(SELECT key FROM operator_lockout ORDER BY locked_until > ?, last_at LIMIT ?)`, nowMS, n-maxLoginCounters+1); err != nil {
					return err
				}
			}
		case err != nil:
			return err
		}
		if until != 0 && until <= nowMS {
			until = 0 // a lock-out that ended
		}
		c.Streak++
		if count {
			c.Failed++
			if c.Failed >= limit {
				until, c.Failed = wire.UnixMS(now.Add(lockFor)), 0
			}
		}
		c.Until, c.Last = wire.FromUnixMS(until), now
		_, err = tx.ExecContext(ctx, `INSERT INTO operator_lockout (key, failed, locked_until, streak, last_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failed = excluded.failed, locked_until = excluded.locked_until, streak = excluded.streak, last_at = excluded.last_at`,
			key, c.Failed, until, c.Streak, nowMS)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("hub: count failed login: %w", err)
	}
	return c, nil
}

// LoginSucceeded undoes the failure counted for a login that turned out right: the name's
// counter is forgotten, the address's streak ends and its count drops by one.
func (h *Hub) LoginSucceeded(ctx context.Context, nameKey, addrKey string) error {
	err := h.inTx(ctx, func(tx *dbTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_lockout WHERE key = ?`, nameKey); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE operator_lockout SET streak = 0, failed = CASE WHEN failed > 0 THEN failed - 1 ELSE 0 END WHERE key = ?`, addrKey); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM operator_lockout WHERE key = ? AND failed = 0 AND locked_until = 0`, addrKey)
		return err
	})
	if err != nil {
		return fmt.Errorf("hub: login counters: %w", err)
	}
	return nil
}

// OperatorSession is a logged-in operator's session.
type OperatorSession struct {
	Operator string
	CSRF     string // sent back with every form that changes something
}

func sessionHash(token string) []byte {
	s := sha256.Sum256([]byte(token))
	return s[:]
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewOperatorSession starts a session for an operator: the token goes into the cookie; only
// its hash is stored. Sessions idle longer than idle are swept.
func (h *Hub) NewOperatorSession(ctx context.Context, operator string, idle time.Duration) (token string, s OperatorSession, err error) {
	token, s = randomToken(), OperatorSession{Operator: operator, CSRF: randomToken()}
	now := wire.UnixMS(h.now())
	err = h.inTx(ctx, func(tx *dbTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE seen_at < ?`, now-idle.Milliseconds()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO operator_sessions (hash, operator, csrf, seen_at) VALUES (?, ?, ?, ?)`,
			sessionHash(token), operator, s.CSRF, now)
		return err
	})
	if err != nil {
		return "", OperatorSession{}, fmt.Errorf("hub: new session: %w", err)
	}
	return token, s, nil
}

// sessionTouchEvery throttles the writes that keep a session alive.
const sessionTouchEvery = time.Minute

// OperatorSessionFor finds the live session of a cookie token (ok false: none, or idle for
// longer than idle, or its operator was removed) and keeps it alive.
func (h *Hub) OperatorSessionFor(ctx context.Context, token string, idle time.Duration) (s OperatorSession, ok bool, err error) {
	if token == "" {
		return s, false, nil
	}
	now := h.now()
	var seen int64
	err = h.r.QueryRowContext(ctx, `SELECT s.operator, s.csrf, s.seen_at FROM operator_sessions s JOIN operators o ON o.name = s.operator WHERE s.hash = ?`,
		sessionHash(token)).Scan(&s.Operator, &s.CSRF, &seen)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return OperatorSession{}, false, nil
	case err != nil:
		return OperatorSession{}, false, fmt.Errorf("hub: session: %w", err)
	}
	if now.Sub(wire.FromUnixMS(seen)) > idle {
		return OperatorSession{}, false, h.EndOperatorSession(ctx, token)
	}
	if now.Sub(wire.FromUnixMS(seen)) >= sessionTouchEvery {
		if _, err := h.w.ExecContext(ctx, `UPDATE operator_sessions SET seen_at = ? WHERE hash = ?`, wire.UnixMS(now), sessionHash(token)); err != nil {
			return OperatorSession{}, false, fmt.Errorf("hub: session: %w", err)
		}
	}
	return s, true, nil
}

// EndOperatorSession ends a session (logout).
func (h *Hub) EndOperatorSession(ctx context.Context, token string) error {
	if _, err := h.w.ExecContext(ctx, `DELETE FROM operator_sessions WHERE hash = ?`, sessionHash(token)); err != nil {
		return fmt.Errorf("hub: end session: %w", err)
	}
	return nil
}
