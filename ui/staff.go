package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/policy"
	"onepass/kiosk/queue"
	"onepass/ui/api"
)

// StaffUser is a member of staff who may log in to the console. The PIN is known only as its
// bcrypt hash.
type StaffUser struct {
	ID      string
	Name    string
	Counter string // default counter
	PINHash string
}

// StaffOptions configure the staff console's logins.
type StaffOptions struct {
	Users        []StaffUser
	LockoutAfter int           // failed PINs in a row before the ID (and the client) is locked out; default 5
	LockoutFor   time.Duration // default 5m
	SessionIdle  time.Duration // a session unused this long ends; default 30m
	Now          func() time.Time
	// Attempts keeps the failed-login counters where a restart cannot clear them (cmd/onepassd:
	// the kiosk database); nil keeps them in memory only.
	Attempts LoginAttempts
}

// LoginAttempt is one failed-login counter: per staff ID as presented (known or not) or per
// client address. It never holds a PIN.
type LoginAttempt struct {
	Key    string    // "id:<staff ID>" or "ip:<client address>"
	Failed int       // failures counted toward the lock-out
	Until  time.Time // locked until; zero = not locked
	Streak int       // an address's failures in a row: its next answer waits loginDelay(Streak)
	Last   time.Time // the last failure; a counter not locked is forgotten LockoutFor after it
}

// LoginAttempts stores the failed-login counters across restarts.
type LoginAttempts interface {
	LoadLoginAttempts(ctx context.Context) ([]LoginAttempt, error)
	// SaveLoginAttempts writes put and forgets the keys in del, all or none.
	SaveLoginAttempts(ctx context.Context, put []LoginAttempt, del []string) error
}

const (
	sessionCookie = "onepass_staff"
	csrfHeader    = "X-CSRF-Token"

	// maxLoginKeys bounds the counters kept (in memory and in the database): guesses at made-up
	// IDs from many addresses cannot grow the table without limit. When full, the counter idle
	// longest goes first, a running lock-out last.
	maxLoginKeys = 1000
	// maxLoginDelay caps the growing per-address delay (1 s, 2 s, 4 s, … after failures in a row).
	maxLoginDelay = 30 * time.Second
	saveTimeout   = 5 * time.Second
)

type session struct {
	key     string // the cookie value
	user    StaffUser
	counter string
	csrf    string
	seen    time.Time
}

// staffAuth holds sessions in memory (a restart logs everyone out, the safe side) and failed
// attempts in memory and, with StaffOptions.Attempts, in the database (a restart must not unlock).
type staffAuth struct {
	o        StaffOptions
	log      *slog.Logger
	users    map[string]StaffUser
	mu       sync.Mutex // sessions
	sessions map[string]*session
	// fmu guards the counters and orders their writes to o.Attempts; apart from mu, so a slow
	// disk write does not hold up the console's requests.
	fmu    sync.Mutex
	fails  map[string]*LoginAttempt
	dirty  map[string]bool // keys changed since the last save
	loaded bool            // o.Attempts has been read
	dummy  []byte
	// compare checks a PIN against a hash (bcrypt; tests count the calls).
	compare func(hash, pin []byte) error
}

func newStaffAuth(o StaffOptions, log *slog.Logger) *staffAuth {
	if o.LockoutAfter <= 0 {
		o.LockoutAfter = 5
	}
	if o.LockoutFor <= 0 {
		o.LockoutFor = 5 * time.Minute
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	a := &staffAuth{o: o, log: log, users: map[string]StaffUser{}, sessions: map[string]*session{},
		fails: map[string]*LoginAttempt{}, dirty: map[string]bool{}, compare: bcrypt.CompareHashAndPassword}
	cost := bcrypt.MinCost
	for _, u := range o.Users {
		a.users[u.ID] = u
		if c, err := bcrypt.Cost([]byte(u.PINHash)); err == nil && c > cost {
			cost = c
		}
	}
	// An unknown ID costs one bcrypt comparison at the staff's own cost, so timing does not tell
	// which IDs exist.
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("no such staff"), cost)
	return a
}

func token() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// staffIDShape is what a staff ID may look like (config's rule for [staff] ids).
var staffIDShape = regexp.MustCompile(`^[0-9A-Za-z_-]{1,16}$`)

// idKey is the counter key of a presented staff ID. Whatever cannot be a staff ID, or is shaped
// like a 15-digit personal ID number someone typed by mistake, is kept only as a 16-bit bucket
// of its hash: the counter still works, but no ID number reaches the disk or the log.
func idKey(id string) string {
	if staffIDShape.MatchString(id) && !(len(id) == 15 && strings.Trim(id, "0123456789") == "") {
		return "id:" + id
	}
	h := sha256.Sum256([]byte(id))
	return "id:#" + hex.EncodeToString(h[:2])
}

// loginDelay is how long an address waits after streak failures in a row: 0, 1 s, 2 s, 4 s, …
// up to maxLoginDelay.
func loginDelay(streak int) time.Duration {
	if streak <= 0 {
		return 0
	}
	if streak > 6 {
		return maxLoginDelay
	}
	return min(time.Second<<(streak-1), maxLoginDelay)
}

// load reads the stored counters once (again after a failed read); a.fmu is held.
func (a *staffAuth) load(ctx context.Context) {
	if a.loaded || a.o.Attempts == nil {
		return
	}
	rows, err := a.o.Attempts.LoadLoginAttempts(ctx)
	if err != nil {
		a.log.Warn("staff login counters not read: lock-outs from before the restart are not known yet", "err", err)
		return
	}
	a.loaded = true
	for _, r := range rows {
		if _, ok := a.fails[r.Key]; !ok {
			a.fails[r.Key] = &r
		}
	}
	for len(a.fails) > maxLoginKeys {
		a.evict(a.o.Now())
	}
}

// save writes the changed counters; a.fmu is held. A failed write is logged: the lock-out still
// holds in memory.
func (a *staffAuth) save(ctx context.Context) {
	if len(a.dirty) == 0 {
		return
	}
	var put []LoginAttempt
	var del []string
	for k := range a.dirty {
		if f := a.fails[k]; f != nil {
			put = append(put, *f)
		} else {
			del = append(del, k)
		}
	}
	clear(a.dirty)
	if a.o.Attempts == nil {
		return
	}
	// The write finishes even if the client hangs up: a counter must not be lost with it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := a.o.Attempts.SaveLoginAttempts(ctx, put, del); err != nil {
		a.log.Warn("staff login counters not saved: a restart would forget them", "err", err)
	}
}

func (a *staffAuth) forget(key string) {
	delete(a.fails, key)
	a.dirty[key] = true
}

// entry is key's counter, made (room made first) when there is none; a.fmu is held.
func (a *staffAuth) entry(key string, now time.Time) *LoginAttempt {
	f := a.fails[key]
	if f == nil {
		for len(a.fails) >= maxLoginKeys {
			a.evict(now)
		}
		f = &LoginAttempt{Key: key, Last: now}
		a.fails[key] = f
	}
	a.dirty[key] = true
	return f
}

// evict forgets the counter idle longest, a running lock-out only when all are locked (then the
// one ending first); a.fmu is held.
func (a *staffAuth) evict(now time.Time) {
	var victim *LoginAttempt
	worse := func(f, v *LoginAttempt) bool { // f should go before v
		fl, vl := now.Before(f.Until), now.Before(v.Until)
		switch {
		case fl != vl:
			return !fl
		case fl:
			return f.Until.Before(v.Until)
		default:
			return f.Last.Before(v.Last)
		}
	}
	for _, f := range a.fails {
		if victim == nil || worse(f, victim) {
			victim = f
		}
	}
	if victim != nil {
		a.forget(victim.Key)
	}
}

// lockedFor reports how long key is still locked out; a.fmu is held.
func (a *staffAuth) lockedFor(key string, now time.Time) time.Duration {
	if f := a.fails[key]; f != nil && now.Before(f.Until) {
		return f.Until.Sub(now)
	}
	return 0
}

// fail counts a failed attempt; a.fmu is held. It reports whether this attempt locked key.
func (a *staffAuth) fail(key string, limit int, now time.Time) bool {
	f := a.entry(key, now)
	f.Failed++
	f.Last = now
	if f.Failed >= limit {
		f.Until, f.Failed = now.Add(a.o.LockoutFor), 0
		return true
	}
	return false
}

// sweepFails forgets ended lock-outs, and counters idle for LockoutFor (or their delay, if
// longer); a.fmu is held. Called on each login, so the table stays as small as the IDs and desks
// that really fail.
func (a *staffAuth) sweepFails(now time.Time) {
	for k, f := range a.fails {
		idle := now.Sub(f.Last) >= max(a.o.LockoutFor, loginDelay(f.Streak))
		if f.Until.IsZero() && idle || !f.Until.IsZero() && !now.Before(f.Until) {
			a.forget(k)
		}
	}
}

// sweepSessions forgets idle sessions; a.mu is held.
func (a *staffAuth) sweepSessions(now time.Time) {
	for k, s := range a.sessions {
		if now.Sub(s.seen) > a.o.SessionIdle {
			delete(a.sessions, k)
		}
	}
}

// refused is the one answer to every refused login (unknown ID, wrong PIN, locked ID, locked
// address), so it does not tell whether an ID exists or is locked.
func (a *staffAuth) refused() *queue.Error {
	zh, en := fmt.Sprintf("%d 分钟", int(a.o.LockoutFor.Minutes())), fmt.Sprintf("%d min", int(a.o.LockoutFor.Minutes()))
	if a.o.LockoutFor%time.Minute != 0 {
		zh, en = fmt.Sprintf("%d 秒", int(a.o.LockoutFor.Seconds())), fmt.Sprintf("%d s", int(a.o.LockoutFor.Seconds()))
	}
	return &queue.Error{Code: "bad_pin",
		Zh: fmt.Sprintf("登录失败：工号或密码错误，或已锁定（连续错误 %d 次锁定 %s）", a.o.LockoutAfter, zh),
		En: fmt.Sprintf("login refused: wrong staff ID or PIN, or locked (%d wrong PINs in a row lock it for %s)", a.o.LockoutAfter, en)}
}

// slowDown answers a login that came before its address's delay had passed.
func slowDown(wait time.Duration) *queue.Error {
	s := retryAfter(wait)
	return &queue.Error{Code: "slow_down", Zh: fmt.Sprintf("登录失败次数过多，请 %d 秒后再试", s),
		En: fmt.Sprintf("too many failed logins from this address: try again in %d s", s)}
}

// retryAfter is wait in whole seconds, rounded up (the Retry-After header).
func retryAfter(wait time.Duration) int { return int((wait + time.Second - 1) / time.Second) }

// loginAnswer is the outcome of a login: a session, or a refusal with its HTTP status; wait is
// the delay a 429 asks for; why says in the log what the answer does not.
type loginAnswer struct {
	s    *session
	code int
	err  *queue.Error
	wait time.Duration
	why  string
}

// login checks a PIN. Every failure is counted per presented ID (known or not) and per client
// address; an address's failures in a row make it wait before its next try.
func (a *staffAuth) login(ctx context.Context, id, pin, counter, ip string) loginAnswer {
	now := a.o.Now()
	idk, ipk := idKey(id), "ip:"+ip
	ipLimit := 3 * a.o.LockoutAfter // a shared desk PC is not locked by one person's typos
	a.fmu.Lock()
	a.load(ctx)
	a.sweepFails(now)
	if f := a.fails[ipk]; f != nil {
		if wait := f.Last.Add(loginDelay(f.Streak)).Sub(now); wait > 0 {
			// Not counted and not checked: a 429 costs no bcrypt work, and holds no goroutine.
			a.save(ctx)
			a.fmu.Unlock()
			return loginAnswer{code: http.StatusTooManyRequests, err: slowDown(wait), wait: wait, why: "too_soon"}
		}
	}
	locked := a.lockedFor(idk, now) > 0 || a.lockedFor(ipk, now) > 0
	// Count the attempt before the slow hash check: guesses sent all at once must not all pass
	// the lock-out and delay checks above before any of them has been counted.
	var ipLocked bool
	if !locked {
		a.fail(idk, a.o.LockoutAfter, now)
		ipLocked = a.fail(ipk, ipLimit, now)
	}
	f := a.entry(ipk, now)
	f.Streak++
	f.Last = now
	a.save(ctx)
	a.fmu.Unlock()

	u, known := a.users[id]
	hash := a.dummy
	if known && !locked {
		hash = []byte(u.PINHash)
	}
	// Locked or unknown, the same bcrypt work is done, and refused alike.
	ok := a.compare(hash, []byte(pin)) == nil && known && !locked
	if !ok {
		why := "wrong_pin"
		switch {
		case locked:
			why = "locked"
		case !known:
			why = "unknown_staff"
		}
		return loginAnswer{code: http.StatusUnauthorized, err: a.refused(), why: why}
	}
	// The right PIN: this attempt was not a failure after all, and the address's run ends.
	a.fmu.Lock()
	a.forget(idk)
	if f := a.fails[ipk]; f != nil {
		if ipLocked {
			f.Until, f.Failed = time.Time{}, ipLimit-1
		} else if f.Failed > 0 {
			f.Failed--
		}
		f.Streak = 0
		a.dirty[ipk] = true
		if f.Failed == 0 && f.Until.IsZero() {
			a.forget(ipk)
		}
	}
	a.save(ctx)
	a.fmu.Unlock()

	if counter == "" {
		counter = u.Counter
	}
	s := &session{key: token(), user: u, counter: counter, csrf: token(), seen: now}
	a.mu.Lock()
	a.sweepSessions(now)
	a.sessions[s.key] = s
	a.mu.Unlock()
	return loginAnswer{s: s, code: http.StatusOK}
}

// session finds the live session of a request.
func (a *staffAuth) session(r *http.Request) (string, *session) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", nil
	}
	now := a.o.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil {
		return "", nil
	}
	if now.Sub(s.seen) > a.o.SessionIdle {
		delete(a.sessions, c.Value)
		return "", nil
	}
	s.seen = now
	return c.Value, s
}

func (a *staffAuth) logout(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, key)
}

// sameOrigin refuses a request that a browser sent from another site's page: the Origin (or,
// without it, the Referer) must name this host.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true // not a browser (curl, onepassctl): no ambient cookie to abuse without one
	}
	u, err := url.Parse(src)
	return err == nil && u.Host == r.Host
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// routeStaff mounts the staff console.
func (s *Server) routeStaff(both func(string, http.HandlerFunc)) {
	both("GET /staff", s.page("assets/staff.html"))
	both("POST /staff/api/login", s.staffLogin)
	both("POST /staff/api/logout", s.staffOnly(func(w http.ResponseWriter, r *http.Request, se *session) {
		s.staff.logout(se.key)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/staff", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		w.WriteHeader(http.StatusNoContent)
	}))
	both("GET /staff/api/state", s.staffOnly(s.staffState))
	for _, op := range []string{"call", "recall", "served", "no-show", "transfer"} {
		both("POST /staff/api/"+op, s.staffOnly(func(w http.ResponseWriter, r *http.Request, se *session) {
			queueCall(s, func(ctx context.Context, req CounterRequest) (queue.Ticket, error) {
				if req.Counter == "" {
					req.Counter = se.counter
				}
				t, err := s.counterOp(ctx, op, req.Counter, req.Service)
				if err == nil {
					s.log.Info("staff", "op", op, "staff", se.user.ID, "counter", req.Counter, "ticket", t.Number)
				}
				return t, err
			})(w, r)
		}))
	}
	both("POST /staff/api/issue", s.staffOnly(s.staffIssue))
	staffCheckIn := queueCall(s, func(ctx context.Context, req CheckInRequest) (queue.Issued, error) {
		return s.o.Queue.CheckIn(ctx, req.Code, "")
	})
	both("POST /staff/api/checkin", s.staffOnly(func(w http.ResponseWriter, r *http.Request, _ *session) { staffCheckIn(w, r) }))
	both("POST /staff/api/override", s.staffOnly(s.staffOverride))
}

// LoginRequest is the body of POST /staff/api/login.
type LoginRequest struct {
	Staff   string `json:"staff"`
	PIN     string `json:"pin"`
	Counter string `json:"counter,omitempty"` // the counter to call to; default the staff's own
}

// Me is who is logged in, with the CSRF token the console sends back in X-CSRF-Token.
type Me struct {
	Staff   string `json:"staff"`
	Name    string `json:"name"`
	Counter string `json:"counter"`
	CSRF    string `json:"csrf"`
}

func (s *Server) staffLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeJSON(w, http.StatusForbidden, queue.Error{Code: "cross_origin", Zh: "请求来源不符", En: "cross-origin request refused"})
		return
	}
	var req LoginRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Counter != "" && !s.knownCounter(req.Counter) {
		writeJSON(w, http.StatusBadRequest, queue.Error{Code: "unknown_counter", Zh: "没有这个窗口", En: fmt.Sprintf("no counter %q in this hall", req.Counter)})
		return
	}
	staff := strings.TrimSpace(req.Staff)
	ans := s.staff.login(r.Context(), staff, req.PIN, req.Counter, clientIP(r))
	if ans.err != nil {
		// The log names the ID as counted (never a typed ID number) and why: the answer does not.
		s.log.Warn("staff login refused", "staff", strings.TrimPrefix(idKey(staff), "id:"), "remote", clientIP(r), "why", ans.why)
		if ans.code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter(ans.wait)))
		}
		writeJSON(w, ans.code, ans.err)
		return
	}
	se := ans.s
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: se.key, Path: "/staff", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	s.log.Info("staff logged in", "staff", se.user.ID, "counter", se.counter, "remote", clientIP(r))
	writeJSON(w, http.StatusOK, Me{Staff: se.user.ID, Name: se.user.Name, Counter: se.counter, CSRF: se.csrf})
}

// staffOnly wraps a handler that needs a logged-in session; a state-changing request must also
// carry the session's CSRF token and come from this origin.
func (s *Server) staffOnly(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, se := s.staff.session(r)
		if se == nil {
			writeJSON(w, http.StatusUnauthorized, queue.Error{Code: "login", Zh: "请先登录", En: "please log in"})
			return
		}
		if r.Method != http.MethodGet {
			tok := r.Header.Get(csrfHeader)
			if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(tok), []byte(se.csrf)) != 1 {
				writeJSON(w, http.StatusForbidden, queue.Error{Code: "csrf", Zh: "请求校验失败，请刷新页面", En: "missing or wrong CSRF token"})
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, se)
	}
}

// StaffState is the body of GET /staff/api/state.
type StaffState struct {
	Me          Me                       `json:"me"`
	Board       queue.Board              `json:"board"`
	Health      map[string]device.Health `json:"health"`
	Unused      []string                 `json:"unused"` // fitted parts the hall's policy does not use (kiosk.View.Unused)
	OutboxDepth *int                     `json:"outbox_depth"`
	ReplicaAgeS *float64                 `json:"replica_age_s"`
	LastSync    *time.Time               `json:"last_sync"`
	Recent      []RecentVisit            `json:"recent"`
	// MANUAL visits waiting for a staff decision, newest first, and the reasons staff may give;
	// both empty when staff decisions are not offered.
	Pending []RecentVisit      `json:"pending"`
	Notes   []api.OverrideNote `json:"notes"`
}

// RecentVisit is a decided pass as the console lists it: masked, no keys.
type RecentVisit struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Method     string    `json:"method"`
	MaskedName string    `json:"masked_name"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason"`
	TextZh     string    `json:"text_zh"`
	StaffID    string    `json:"staff_id,omitempty"`  // a staff decision: who decided
	Overrides  string    `json:"overrides,omitempty"` // a staff decision: the visit decided
}

// Console list sizes: the recent outcomes shown, and how far back MANUAL visits are looked for
// (a few busy minutes: the person waiting is at the lane or the desk now).
const (
	recentShown   = 10
	pendingWindow = 100
	pendingShown  = 10
)

func (s *Server) staffState(w http.ResponseWriter, r *http.Request, se *session) {
	view := s.k.View()
	st := StaffState{
		Me:     Me{Staff: se.user.ID, Name: se.user.Name, Counter: se.counter, CSRF: se.csrf},
		Board:  s.o.Queue.Board(),
		Health: view.Health, Unused: append([]string{}, view.Unused...),
		Recent: []RecentVisit{}, Pending: []RecentVisit{}, Notes: []api.OverrideNote{},
	}
	if s.o.Status != nil {
		ds := s.o.Status(r.Context())
		st.OutboxDepth, st.ReplicaAgeS, st.LastSync = ds.OutboxDepth, ds.ReplicaAgeS, ds.LastSync
	}
	if s.o.Visits != nil {
		vs, err := s.o.Visits.Recent(r.Context(), pendingWindow)
		if err != nil {
			s.log.Warn("staff console: recent visits", "err", err)
		}
		decided := map[string]bool{}
		for _, v := range vs {
			if v.Overrides != "" {
				decided[v.Overrides] = true
			}
		}
		for i, v := range vs {
			rv := RecentVisit{ID: v.ID, At: v.At, Method: v.Method, MaskedName: v.MaskedName, Outcome: v.Outcome, Reason: v.Reason,
				TextZh: policy.TextForOutcome(policy.Reason(v.Reason), policy.Outcome(v.Outcome)).TitleZh, StaffID: v.StaffID, Overrides: v.Overrides}
			if i < recentShown {
				st.Recent = append(st.Recent, rv)
			}
			// A decision is always newer than the visit it decides, so it is in this window too.
			if s.o.Override != nil && policy.Outcome(v.Outcome) == policy.Manual && !decided[v.ID] && len(st.Pending) < pendingShown {
				rv.TextZh = policy.TextFor(policy.Reason(v.Reason)).Zh
				st.Pending = append(st.Pending, rv)
			}
		}
	}
	if s.o.Override != nil {
		for _, n := range kiosk.OverrideNotes() {
			an := api.OverrideNote{Code: n.Code, Zh: n.Zh, En: n.En}
			for _, o := range n.Outcomes {
				an.Outcomes = append(an.Outcomes, string(o))
			}
			st.Notes = append(st.Notes, an)
		}
	}
	writeJSON(w, http.StatusOK, st)
}

// staffOverride is POST /staff/api/override: the logged-in staff member passes or refuses a
// MANUAL visit. The decision is logged (and, at the lane, shown) before the answer.
func (s *Server) staffOverride(w http.ResponseWriter, r *http.Request, se *session) {
	var req api.OverrideRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if s.o.Override == nil {
		writeJSON(w, http.StatusConflict, queue.Error{Code: "override_off", Zh: "未接入核验，不能人工核验", En: "staff decisions are not available"})
		return
	}
	res, err := s.o.Override.Override(r.Context(), kiosk.OverrideInput{VisitID: req.VisitID, Outcome: policy.Outcome(req.Outcome), Note: req.Note, StaffID: se.user.ID})
	switch {
	case errors.Is(err, kiosk.ErrNoVisit):
		writeJSON(w, http.StatusNotFound, queue.Error{Code: "no_visit", Zh: "未找到该核验记录", En: "no such visit"})
		return
	case errors.Is(err, kiosk.ErrNotManual):
		writeJSON(w, http.StatusConflict, queue.Error{Code: "not_manual", Zh: "只有“人工核验”的记录可由工作人员决定", En: "only a MANUAL visit can be decided by staff"})
		return
	case errors.Is(err, kiosk.ErrAlreadyDecided):
		writeJSON(w, http.StatusConflict, queue.Error{Code: "already_decided", Zh: "该记录已由工作人员处理", En: "this visit already has a staff decision"})
		return
	case errors.Is(err, kiosk.ErrBadOverride):
		writeJSON(w, http.StatusBadRequest, queue.Error{Code: "bad_override", Zh: "请选择通过或不通过，以及原因", En: err.Error()})
		return
	case err != nil:
		s.log.Error("staff decision not logged", "staff", se.user.ID, "err", err)
		writeJSON(w, http.StatusInternalServerError, queue.Error{Code: "internal", Zh: "记录失败，请重试", En: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, api.Override{VisitID: res.VisitID, Overrides: res.Overrides, Outcome: string(res.Outcome),
		MaskedName: res.MaskedName, Shown: res.Shown, AtDesk: kiosk.Method(res.Method) == kiosk.MethodManual})
}

// StaffIssueRequest is the body of POST /staff/api/issue: a ticket for someone at the desk,
// optionally identified by typing their ID number, which goes through the lane's policy.
type StaffIssueRequest struct {
	Service   string         `json:"service"`
	Priority  queue.Priority `json:"priority,omitempty"`
	IDNumber  string         `json:"id_number,omitempty"`
	Name      string         `json:"name,omitempty"`
	TempC     float64        `json:"temp_c,omitempty"`
	Foreigner bool           `json:"foreigner,omitempty"`
}

// StaffIssued is the answer: the ticket and, for a manual ID entry, the policy's decision.
type StaffIssued struct {
	queue.Issued
	Check *kiosk.ManualResult `json:"check,omitempty"`
}

func (s *Server) staffIssue(w http.ResponseWriter, r *http.Request, se *session) {
	var req StaffIssueRequest
	if !decodeBody(w, r, &req) {
		return
	}
	var out StaffIssued
	ir := queue.IssueRequest{Service: req.Service, Priority: req.Priority, Source: queue.FromStaff, Print: true, WaitPrint: true}
	if strings.TrimSpace(req.IDNumber) != "" {
		if plainLAN(r) {
			// An ID number must not cross the hall's network in clear text ([staff] tls_cert).
			writeJSON(w, http.StatusForbidden, queue.Error{Code: "manual_needs_tls", Zh: "局域网未加密，不能手工录入证件号", En: "manual ID entry over the LAN needs TLS ([staff] tls_cert)"})
			return
		}
		if s.o.Manual == nil {
			writeJSON(w, http.StatusConflict, queue.Error{Code: "manual_off", Zh: "未接入核验，不能手工录入", En: "manual ID entry is not available"})
			return
		}
		res, err := s.o.Manual.CheckManual(r.Context(), kiosk.ManualInput{Number: req.IDNumber, Name: req.Name, TempC: req.TempC, Foreigner: req.Foreigner})
		out.Check = &res
		if err != nil || res.Outcome != policy.Pass {
			writeJSON(w, http.StatusConflict, struct {
				queue.Error
				Check *kiosk.ManualResult `json:"check"`
			}{queue.Error{Code: "not_passed", Zh: res.TitleZh + "：" + res.TextZh, En: res.TitleEn + ": " + res.TextEn}, &res})
			return
		}
		ir.VisitID = res.VisitID
	}
	is, err := s.o.Queue.Issue(r.Context(), ir)
	if err != nil {
		s.writeQueueErr(w, err)
		return
	}
	out.Issued = is
	s.log.Info("staff issued a ticket", "staff", se.user.ID, "ticket", is.Ticket.Number, "manual_id", req.IDNumber != "")
	writeJSON(w, http.StatusOK, out)
}

// plainLAN reports a request that came over the network without TLS.
func plainLAN(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// knownCounter reports whether the hall has the counter (a typo at login would make every call fail).
func (s *Server) knownCounter(id string) bool {
	if s.o.Queue == nil {
		return true
	}
	for _, c := range s.o.Queue.Board().Counters {
		if c.ID == id {
			return true
		}
	}
	return false
}
