package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"onepass/sync/hub"
)

const (
	sessionCookie = "onepass_admin"
	langCookie    = "onepass_admin_lang"
	csrfField     = "csrf"
)

// nameKey is the counter key of a name as typed. What cannot be an operator's name (an ID number
// typed into the wrong field, say) is kept only as a 16-bit bucket of its hash: the counter still
// works, and no ID number reaches the database or the log.
func nameKey(name string) string {
	if hub.ValidOperatorName(name) {
		return hub.OperatorNameKey(name)
	}
	s := sha256.Sum256([]byte(name))
	return "u:#" + hex.EncodeToString(s[:2])
}

// delay is how long an address waits after streak failures in a row: 0, base, 2·base, 4·base, …
// up to 30·base.
func (d *Dashboard) delay(streak int) time.Duration {
	if streak <= 0 {
		return 0
	}
	return min(d.o.DelayBase<<min(streak-1, 5), 30*d.o.DelayBase)
}

// sameOrigin refuses a form another site's page posted: the Origin (or the Referer) must name
// this host. Without either it is no browser, and carries no ambient cookie to abuse.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true
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

// pageLang is the request's language: ?lang= (remembered in a cookie), else the cookie, else
// Chinese.
func pageLang(w http.ResponseWriter, r *http.Request) lang {
	v := r.URL.Query().Get("lang")
	if v == "zh" || v == "en" {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: v, Path: "/admin/", MaxAge: 365 * 24 * 3600,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, HttpOnly: true})
	} else if c, err := r.Cookie(langCookie); err == nil {
		v = c.Value
	}
	if v == "en" {
		return 1
	}
	return 0
}

// view is what every page's template gets.
type view struct {
	Lang     string
	T        map[string]string
	Page     string
	Operator string
	CSRF     string
	LangURL  string // this page in the other language
	Refresh  int    // seconds; 0 none
	Error    string
	Data     any
}

func (d *Dashboard) view(w http.ResponseWriter, r *http.Request, page string, s *hub.OperatorSession) view {
	l := pageLang(w, r)
	q := r.URL.Query()
	q.Set("lang", lang(1-l).code())
	v := view{Lang: l.code(), T: d.words[l], Page: page, LangURL: r.URL.Path + "?" + q.Encode()}
	if s != nil {
		v.Operator, v.CSRF = s.Operator, s.CSRF
	}
	return v
}

func (d *Dashboard) render(w http.ResponseWriter, code int, page string, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := d.pages[page].Execute(w, v); err != nil {
		d.o.Logger.Warn("dashboard: render", "page", page, "err", err)
	}
}

// operator wraps a page that needs a logged-in operator; a POST must also carry the session's
// CSRF token and come from this origin.
func (d *Dashboard) operator(next func(http.ResponseWriter, *http.Request, *hub.OperatorSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var tok string
		if c, err := r.Cookie(sessionCookie); err == nil {
			tok = c.Value
		}
		s, ok, err := d.h.OperatorSessionFor(r.Context(), tok, d.o.SessionIdle)
		if err != nil {
			d.o.Logger.Warn("dashboard: session", "err", err)
			http.Error(w, "hub database unavailable", http.StatusServiceUnavailable)
			return
		}
		if !ok {
			http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet {
			r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
			if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(s.CSRF)) != 1 {
				http.Error(w, "missing or wrong CSRF token: reload the page", http.StatusForbidden)
				return
			}
		}
		next(w, r, &s)
	}
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, "login", d.view(w, r, "login", nil))
}

// login checks a password. Every failure counts against the name as typed (known or not) and the
// client's address before the slow hash check; the address waits longer after each failure in a
// row; every refusal reads alike, so it tells nothing of which names exist or are locked.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := d.view(w, r, "login", nil)
	if !sameOrigin(r) {
		http.Error(w, "cross-origin login refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	user, pw := strings.TrimSpace(r.PostFormValue("user")), r.PostFormValue("password")
	ip := clientIP(r)
	nk, ak := nameKey(user), "ip:"+ip
	now := d.o.Now()
	fail := func(code int, msg, why string) {
		d.o.Logger.Warn("dashboard login refused", "user", strings.TrimPrefix(nk, "u:"), "remote", ip, "why", why)
		v.Error = msg
		d.render(w, code, "login", v)
	}
	dbErr := func(err error) {
		d.o.Logger.Warn("dashboard: login", "err", err)
		v.Error = v.T["error"]
		d.render(w, http.StatusServiceUnavailable, "login", v)
	}
	ac, err := d.h.LoginCounter(ctx, ak)
	if err != nil {
		dbErr(err)
		return
	}
	if wait := ac.Last.Add(d.delay(ac.Streak)).Sub(now); ac.Streak > 0 && wait > 0 {
		// Not counted and not checked: a 429 costs no bcrypt work.
		s := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(s))
		fail(http.StatusTooManyRequests, tf(v.T["slow_down"], s), "too_soon")
		return
	}
	nc, err := d.h.LoginCounter(ctx, nk)
	if err != nil {
		dbErr(err)
		return
	}
	locked := now.Before(nc.Until) || now.Before(ac.Until)
	// Counted before the hash check, so guesses sent at once cannot all pass the checks above.
	if _, err := d.h.CountLoginFailure(ctx, nk, d.o.LockoutAfter, d.o.LockoutFor, d.o.LockoutFor, !locked); err != nil {
		dbErr(err)
		return
	}
	if _, err := d.h.CountLoginFailure(ctx, ak, 3*d.o.LockoutAfter, d.o.LockoutFor, max(d.o.LockoutFor, 30*d.o.DelayBase), !locked); err != nil {
		dbErr(err)
		return
	}
	hash, known, err := d.h.OperatorHash(ctx, user)
	if err != nil {
		dbErr(err)
		return
	}
	check := d.dummy
	if known && !locked {
		check = []byte(hash)
	}
	// Locked or unknown, the same bcrypt work is done and refused alike.
	ok := bcrypt.CompareHashAndPassword(check, []byte(pw)) == nil && known && !locked
	if !ok {
		why := "wrong_password"
		switch {
		case locked:
			why = "locked"
		case !known:
			why = "unknown_operator"
		}
		fail(http.StatusUnauthorized, tf(v.T["refused"], d.o.LockoutAfter, int(d.o.LockoutFor/time.Minute)), why)
		return
	}
	if err := d.h.LoginSucceeded(ctx, nk, ak); err != nil {
		dbErr(err)
		return
	}
	tok, _, err := d.h.NewOperatorSession(ctx, user, d.o.SessionIdle)
	if err != nil {
		dbErr(err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/admin/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	d.o.Logger.Info("dashboard: operator logged in", "user", user, "remote", ip)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, _ *hub.OperatorSession) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := d.h.EndOperatorSession(r.Context(), c.Value); err != nil {
			d.o.Logger.Warn("dashboard: logout", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/admin/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
