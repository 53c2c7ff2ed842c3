package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
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
}

const (
	sessionCookie = "onepass_staff"
	csrfHeader    = "X-CSRF-Token"
)

type session struct {
	key     string // the cookie value
	user    StaffUser
	counter string
	csrf    string
	seen    time.Time
}

type attempts struct {
	failed int
	until  time.Time
}

// staffAuth holds sessions and failed attempts in memory: a restart logs everyone out, which
// is the safe side.
type staffAuth struct {
	o        StaffOptions
	users    map[string]StaffUser
	mu       sync.Mutex
	sessions map[string]*session
	fails    map[string]*attempts // by "id:<staff id>" and "ip:<address>"
	dummy    []byte
}

func newStaffAuth(o StaffOptions) *staffAuth {
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
	a := &staffAuth{o: o, users: map[string]StaffUser{}, sessions: map[string]*session{}, fails: map[string]*attempts{}}
	for _, u := range o.Users {
		a.users[u.ID] = u
	}
	// An unknown ID still costs one bcrypt comparison, so timing does not tell which IDs exist.
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("no such staff"), bcrypt.MinCost)
	return a
}

func token() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// lockedFor reports how long key is still locked out; a.mu is held.
func (a *staffAuth) lockedFor(key string, now time.Time) time.Duration {
	if f := a.fails[key]; f != nil && now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// fail counts a failed attempt; a.mu is held. It returns the attempts left before lock-out.
func (a *staffAuth) fail(key string, limit int, now time.Time) int {
	f := a.fails[key]
	if f == nil || (!f.until.IsZero() && !now.Before(f.until)) {
		f = &attempts{}
		a.fails[key] = f
	}
	f.failed++
	if f.failed >= limit {
		f.until, f.failed = now.Add(a.o.LockoutFor), 0
		return 0
	}
	return limit - f.failed
}

// sweep forgets expired lock-outs and idle sessions; a.mu is held. Called on each login, so the
// tables stay as small as the staff and desks that really use them.
func (a *staffAuth) sweep(now time.Time) {
	for k, f := range a.fails {
		if !f.until.IsZero() && !now.Before(f.until) {
			delete(a.fails, k)
		}
	}
	for k, s := range a.sessions {
		if now.Sub(s.seen) > a.o.SessionIdle {
			delete(a.sessions, k)
		}
	}
}

// login checks a PIN. It answers the session, or a refusal with the HTTP status to send.
func (a *staffAuth) login(id, pin, counter, ip string) (*session, int, *queue.Error) {
	now := a.o.Now()
	idKey, ipKey := "id:"+id, "ip:"+ip
	if _, known := a.users[id]; !known {
		idKey = "id:?" // unknown IDs share one counter: random IDs cannot grow the table
	}
	ipLimit := 3 * a.o.LockoutAfter // a shared desk PC is not locked by one person's typos
	a.mu.Lock()
	a.sweep(now)
	wait := max(a.lockedFor(idKey, now), a.lockedFor(ipKey, now))
	if wait > 0 {
		a.mu.Unlock()
		mins := int(wait.Minutes()) + 1
		return nil, http.StatusTooManyRequests, &queue.Error{Code: "locked",
			Zh: fmt.Sprintf("尝试次数过多，已锁定，请 %d 分钟后再试", mins), En: fmt.Sprintf("too many failed attempts: locked, try again in %d min", mins)}
	}
	// Count the attempt before the slow hash check: guesses sent all at once must not all pass
	// the lock-out check above before any of them has been counted.
	left := a.fail(idKey, a.o.LockoutAfter, now)
	if a.fail(ipKey, ipLimit, now) == 0 {
		left = 0
	}
	a.mu.Unlock()
	u, known := a.users[id]
	hash := a.dummy
	if known {
		hash = []byte(u.PINHash)
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(pin)) == nil && known
	a.mu.Lock()
	defer a.mu.Unlock()
	if !ok {
		if left == 0 {
			return nil, http.StatusTooManyRequests, &queue.Error{Code: "locked",
				Zh: fmt.Sprintf("工号或密码错误，已锁定 %d 分钟", int(a.o.LockoutFor.Minutes())), En: "wrong staff ID or PIN: locked out"}
		}
		return nil, http.StatusUnauthorized, &queue.Error{Code: "bad_pin",
			Zh: fmt.Sprintf("工号或密码错误，还可尝试 %d 次", left), En: fmt.Sprintf("wrong staff ID or PIN, %d attempts left", left)}
	}
	// The right PIN: this attempt was not a failure after all.
	delete(a.fails, idKey)
	if f := a.fails[ipKey]; f != nil && f.failed > 0 {
		f.failed--
	}
	if counter == "" {
		counter = u.Counter
	}
	s := &session{key: token(), user: u, counter: counter, csrf: token(), seen: now}
	a.sessions[s.key] = s
	return s, http.StatusOK, nil
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
	se, code, qe := s.staff.login(strings.TrimSpace(req.Staff), req.PIN, req.Counter, clientIP(r))
	if qe != nil {
		s.log.Warn("staff login refused", "staff", req.Staff, "remote", clientIP(r), "why", qe.Code)
		writeJSON(w, code, qe)
		return
	}
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
	st := StaffState{
		Me:     Me{Staff: se.user.ID, Name: se.user.Name, Counter: se.counter, CSRF: se.csrf},
		Board:  s.o.Queue.Board(),
		Health: s.k.View().Health,
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
