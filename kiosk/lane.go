// Package kiosk is the pass flow of one lane: it listens to the card reader, the camera and the
// thermometer, decides with kiosk/policy, writes the visit durably, then shows the result and
// drives the gate. The flow is an explicit state machine run by one goroutine, so no two inputs
// are ever handled at once.
package kiosk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/identity"
	"onepass/kiosk/broadcast"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// Config holds the lane's timings and rules.
type Config struct {
	Lane           string
	ShowFor        time.Duration // how long a result stays on screen
	MeasureTimeout time.Duration // identified but no stable temperature by then → RETRY
	PollEvery      time.Duration // thermometer read interval
	GatePulse      time.Duration // gate relay pulse on PASS
	CardWait       time.Duration // a printed code shown before the card waits this long for it
	Measure        MeasureConfig
	Policy         policy.Policy
}

// DefaultConfig is what a kiosk uses when the config file says nothing.
func DefaultConfig() Config {
	return Config{
		Lane: "1", ShowFor: 5 * time.Second, MeasureTimeout: 8 * time.Second,
		PollEvery: 250 * time.Millisecond, GatePulse: time.Second, CardWait: 8 * time.Second,
		Measure: DefaultMeasure(), Policy: policy.Default(),
	}
}

// Parts are the lane's devices; any may be nil (not fitted).
type Parts struct {
	Reader      device.CardReader
	Thermometer device.Thermometer
	Scanner     device.CodeScanner
	Signal      device.Signal
	Printer     device.TicketPrinter
}

// VisitLog writes visits durably (sync/store.Store).
type VisitLog interface {
	Append(ctx context.Context, v *store.Visit) error
}

// Replica answers status lookups from the local copy of the platform's status list.
type Replica interface {
	Status(ctx context.Context, personKey []byte) (store.StatusRow, bool, error)
	// Age is how old the replica is; a very large value when it was never synced.
	Age(ctx context.Context) time.Duration
}

// CodeVerifier judges a presented code offline (kiosk/healthcode). card is the certificate on the
// reader (nil without one) so the verifier can check the code's binding.
type CodeVerifier interface {
	Verify(ctx context.Context, text string, card *healthcode.Card) (policy.Code, string)
}

// Keys are the deployment secrets: the person-key HMAC key and the platform's sealing key.
type Keys struct {
	Deployment []byte
	Sealer     *identity.Sealer
}

// Lane runs the pass flow of one lane.
type Lane struct {
	cfg     Config
	parts   Parts
	log     VisitLog
	replica Replica
	codes   CodeVerifier
	keys    Keys
	clock   clockwork.Clock
	logger  *slog.Logger

	events  chan event
	counter *counters

	// Owned by the Run goroutine.
	phase     Phase
	cur       *pass
	meas      measurer
	usedGen   int // the measurement whose temperature already decided a pass
	feverEp   int // the presence episode already refused for fever without an identity
	deadline  time.Time
	logHealth device.Health
	downSince map[string]time.Time // parts a pass depends on, seen down since (the lane's clock)

	loopAt atomic.Int64 // unix ns of the Run loop's last turn: the daemon's watchdog reads it (Alive)

	mu      sync.Mutex // guards view, and the updates below
	view    View
	subs    broadcast.Latest[View]
	version uint64
	// Updates from sync (SetKeys, SetPolicy), taken over by the Run goroutine at its next turn.
	nextKeys   *Keys
	nextPolicy *policy.Policy
	syncHealth func() device.Health
}

// Options are the optional collaborators of a lane.
type Options struct {
	Log       VisitLog
	Replica   Replica
	Codes     CodeVerifier
	Keys      Keys
	Clock     clockwork.Clock
	Logger    *slog.Logger
	LogHealth device.Health // the store's health at start (down when it could not be opened)
	// SyncHealth reports sync with the platform as the "sync" part (nil: no such part).
	SyncHealth func() device.Health
}

// New assembles a lane; Run starts it.
func New(cfg Config, parts Parts, o Options) *Lane {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LogHealth.State == "" {
		o.LogHealth = device.Healthy(o.Clock.Now())
	}
	l := &Lane{
		cfg: cfg, parts: parts, log: o.Log, replica: o.Replica, codes: o.Codes, keys: o.Keys,
		clock: o.Clock, logger: o.Logger.With("lane", cfg.Lane),
		events: make(chan event, 64), counter: newCounters(),
		phase: PhaseIdle, logHealth: o.LogHealth, syncHealth: o.SyncHealth,
		downSince: map[string]time.Time{},
	}
	l.meas.cfg = cfg.Measure
	l.view = l.render()
	return l
}

// event is one input to the state machine.
type event struct {
	at   time.Time
	card *device.Card
	scan *device.Scan
	temp *device.TempReading
	tick bool // re-check deadlines and part health
	// notice is something to tell the person that is not a pass (Notice).
	notice policy.Reason

	override *override // a staff decision, already logged, to show (override.go)
}

// pass is what is known about the person being checked.
type pass struct {
	started    time.Time
	method     string
	cert       *healthcode.Card
	card       *policy.Card
	code       *policy.Code
	codeText   string
	personKey  []byte
	sealedID   []byte
	maskedName string
	maskedID   string
	lastInput  time.Time // when the input that completed the pass arrived
	decision   policy.Decision
	visitID    string
	tempC      *float64
	cardBy     time.Time // PhaseCardWait: the card is waited for until then
}

// Run drives the lane until ctx is done. It starts one reader goroutine per fitted input part.
func (l *Lane) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r := l.parts.Reader; r != nil {
		wg.Go(func() { pump(ctx, l, "reader", r.Next, func(c device.Card) event { return event{card: &c} }) })
	}
	if s := l.parts.Scanner; s != nil {
		wg.Go(func() { pump(ctx, l, "camera", s.Next, func(sc device.Scan) event { return event{scan: &sc} }) })
	}
	if t := l.parts.Thermometer; t != nil {
		wg.Go(func() { l.pollThermometer(ctx, t) })
	}
	tick := l.clock.NewTicker(time.Second / 4)
	defer tick.Stop()
	for {
		l.loopAt.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			return nil
		case ev := <-l.events:
			l.handle(ctx, ev)
		case now := <-tick.Chan():
			l.handle(ctx, event{at: now, tick: true})
		}
	}
}

// Alive reports when the Run loop last turned (wall clock, not the lane's clock): the loop turns at
// least four times a second, so a stale time means a handler is stuck. Zero before Run starts.
// systemd's watchdog is fed only while this is fresh.
func (l *Lane) Alive() time.Time {
	ns := l.loopAt.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// pump turns a blocking Next into events; errors are logged and retried with backoff so an
// unplugged part never stops the lane (its Health says what is wrong).
func pump[T any](ctx context.Context, l *Lane, part string, next func(context.Context) (T, error), wrap func(T) event) {
	backoff := 100 * time.Millisecond
	for {
		v, err := next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.logger.Warn("input part failed", "part", part, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-l.clock.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		ev := wrap(v)
		ev.at = l.clock.Now()
		l.deliver(ctx, ev)
	}
}

func (l *Lane) pollThermometer(ctx context.Context, t device.Thermometer) {
	tick := l.clock.NewTicker(l.cfg.PollEvery)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.Chan():
		}
		r, err := t.Read(ctx)
		if err != nil {
			if failures++; failures == 1 || failures%100 == 0 {
				l.logger.Warn("thermometer read failed", "err", err, "failures", failures)
			}
			continue
		}
		failures = 0
		l.deliver(ctx, event{at: l.clock.Now(), temp: &r})
	}
}

func (l *Lane) deliver(ctx context.Context, ev event) {
	select {
	case l.events <- ev:
	case <-ctx.Done():
	}
}

// handle is the state machine: every input and every tick goes through here, one at a time.
func (l *Lane) handle(ctx context.Context, ev event) {
	l.takeUpdates()
	l.watchParts(ev.at)
	switch {
	case ev.card != nil:
		l.onCard(ctx, ev)
	case ev.scan != nil:
		l.onScan(ctx, ev)
	case ev.temp != nil:
		l.onTemp(ctx, ev)
	case ev.notice != "":
		l.onNotice(ev)
	case ev.tick:
		l.onTick(ctx, ev.at)
	case ev.override != nil:
		l.onOverride(ctx, ev)
	}
}

// Notice shows the person in front something that is not a pass (an appointment code shown before
// the check, policy.ReasonCheckInNeedsPass) for the time a result is shown. It is dropped while a
// pass is under way: that person is already told what to do.
func (l *Lane) Notice(ctx context.Context, r policy.Reason) {
	l.deliver(ctx, event{at: l.clock.Now(), notice: r})
}

func (l *Lane) onNotice(ev event) {
	if l.phase != PhaseIdle && l.phase != PhaseShowing {
		return
	}
	l.cur = &pass{started: ev.at, decision: policy.Decision{Outcome: policy.Undecided, Reason: ev.notice}}
	l.deadline = ev.at.Add(l.cfg.ShowFor)
	l.transition(PhaseShowing)
}

// watchParts notes when a part a pass depends on went down, so that fault_grace counts from then.
func (l *Lane) watchParts(now time.Time) {
	parts := [...]struct {
		name string
		part device.Part
	}{{"reader", nilPart(l.parts.Reader)}, {"thermometer", nilPart(l.parts.Thermometer)}, {"camera", nilPart(l.parts.Scanner)}}
	for _, x := range parts {
		name, p := x.name, x.part
		if p == nil || p.Health().State != device.Down {
			delete(l.downSince, name)
			continue
		}
		if _, ok := l.downSince[name]; !ok {
			l.downSince[name] = now
		}
	}
}

// partDown reports whether a part has been down for at least [measure] fault_grace.
func (l *Lane) partDown(name string, now time.Time) bool {
	since, ok := l.downSince[name]
	return ok && now.Sub(since) >= l.cfg.Measure.FaultGrace
}

// tempDown reports whether passes needing a temperature must stop waiting for one.
func (l *Lane) tempDown(now time.Time) bool {
	return !l.cfg.Policy.TemperatureOff() && l.partDown("thermometer", now)
}

// awaitsCard reports whether the pass holds a code that is accepted only with the ID card, the
// card has not come yet, and it still may: the reader is fitted and working and card_wait has
// not run out.
func (l *Lane) awaitsCard(now time.Time) bool {
	p := l.cur
	if p.card != nil || p.code == nil || !policy.NeedsCard(*p.code) || l.cfg.CardWait <= 0 {
		return false
	}
	if l.parts.Reader == nil || l.partDown("reader", now) {
		return false
	}
	return p.cardBy.IsZero() || now.Before(p.cardBy)
}

// startPass begins a new pass for a new identity. An identity during "showing" ends the shown
// result: the next person does not wait for the previous screen.
func (l *Lane) startPass(now time.Time) *pass {
	if l.cur == nil || l.phase == PhaseShowing || l.phase == PhaseDecided {
		l.cur = &pass{started: now}
		if l.meas.stable && l.meas.gen == l.usedGen {
			l.meas.restart() // that reading belonged to the previous person
		}
	}
	return l.cur
}

func (l *Lane) onCard(ctx context.Context, ev event) {
	if l.cur != nil && l.cur.card != nil && l.phase != PhaseShowing {
		l.cur = nil // a second card while measuring is another person: start over
	}
	p := l.startPass(ev.at)
	c := ev.card
	cert := &healthcode.Card{Type: certType(c.Type), Number: c.Number}
	num, err := checkNumber(c, ev.at)
	p.card = &policy.Card{NumberValid: err == nil, Expired: expired(c.ValidTo, ev.at)}
	p.maskedName = identity.MaskName(c.Name)
	if err != nil {
		// Never log the number; say only why it was refused.
		l.logger.Info("card refused", "type", c.Type, "err", err)
		p.maskedID = ""
	} else {
		cert.Number = num
		p.cert = cert
		p.maskedID = identity.MaskID(num)
		if l.keys.Deployment != nil {
			p.personKey = identity.PersonKey(l.keys.Deployment, cert.Type, num)
		}
		if l.keys.Sealer != nil {
			if p.sealedID, err = l.keys.Sealer.Seal(cert.Type, num); err != nil {
				l.logger.Error("seal id", "err", err)
			}
		}
	}
	p.method = joinMethod(p.method, "card")
	if p.code != nil && l.codes != nil && p.codeText != "" {
		// The code came first: check its binding now that the card is known.
		p.code, _ = l.verify(ctx, p.codeText, p.cert)
	}
	l.identified(ctx, ev.at)
}

func (l *Lane) onScan(ctx context.Context, ev event) {
	p := l.startPass(ev.at)
	p.codeText = ev.scan.Text
	code, masked := l.verify(ctx, ev.scan.Text, p.cert)
	p.code = code
	if p.maskedName == "" {
		p.maskedName = masked
	}
	p.method = joinMethod(p.method, "code")
	l.identified(ctx, ev.at)
}

func (l *Lane) verify(ctx context.Context, text string, cert *healthcode.Card) (*policy.Code, string) {
	if l.codes == nil {
		return &policy.Code{Check: policy.CodeNotOffline}, ""
	}
	c, masked := l.codes.Verify(ctx, text, cert)
	if masked != "" && !strings.Contains(masked, "*") {
		masked = identity.MaskName(masked) // an issuer that did not mask (JKM1 says it must)
	}
	return &c, masked
}

func (l *Lane) identified(ctx context.Context, now time.Time) {
	l.cur.lastInput = now
	l.transition(PhaseIdentified)
	if l.awaitsCard(now) {
		// A printed code first: ask for the card rather than send the person to staff at once.
		if l.cur.cardBy.IsZero() {
			l.cur.cardBy = now.Add(l.cfg.CardWait)
		}
		l.transition(PhaseCardWait)
		return
	}
	if l.tryDecide(ctx, now) {
		return
	}
	l.deadline = now.Add(l.cfg.MeasureTimeout)
	l.transition(PhaseMeasuring)
}

func (l *Lane) onTemp(ctx context.Context, ev event) {
	if l.cfg.Policy.TemperatureOff() {
		return // the hall takes no temperatures: none is shown, none decides
	}
	wasPresent, ep := l.meas.present, l.meas.episode
	stableNow := l.meas.add(ev.at, *ev.temp)
	if !stableNow {
		if wasPresent != l.meas.present || ep != l.meas.episode {
			l.publish() // presence changed: the idle screen may show or drop the temperature
		}
		return
	}
	switch l.phase {
	case PhaseMeasuring:
		l.cur.lastInput = ev.at
		l.tryDecide(ctx, ev.at)
	case PhaseIdle, PhaseShowing, PhaseDecided:
		if l.phase == PhaseShowing && l.cur != nil && l.cur.decision.Outcome == policy.Retry && l.cur.method != "temp" {
			// The person was asked to measure again: their card or code still counts.
			l.cur.lastInput = ev.at
			l.tryDecide(ctx, ev.at)
			return
		}
		// A person with no identity yet: a fever is decided at once, whoever it is; a normal
		// temperature waits for the card or code (shown on the idle screen).
		if t := l.meas.temp(); t.State == policy.TempStable && t.C >= l.cfg.Policy.FeverC && l.meas.gen != l.usedGen && l.meas.episode != l.feverEp {
			// Once per presence: someone else's card must not re-refuse the person still standing there.
			l.feverEp = l.meas.episode
			l.cur = &pass{started: ev.at, lastInput: ev.at, method: "temp"}
			l.tryDecide(ctx, ev.at)
			return
		}
		l.publish()
	}
}

func (l *Lane) onTick(ctx context.Context, now time.Time) {
	switch l.phase {
	case PhaseMeasuring:
		switch {
		case l.tempDown(now):
			l.cur.lastInput = now
			l.tryDecide(ctx, now)
		case !now.Before(l.deadline):
			l.cur.lastInput = now
			l.decide(ctx, now, policy.Temp{State: policy.TempNone})
		}
	case PhaseCardWait:
		if !l.awaitsCard(now) {
			// No card in time (or the reader broke): the code alone decides, to staff.
			l.cur.lastInput = now
			l.decide(ctx, now, policy.Temp{State: policy.TempPending})
		}
	case PhaseShowing:
		if !now.Before(l.deadline) {
			l.cur = nil
			l.transition(PhaseIdle)
		}
	}
	if l.healthChanged() || l.idleChanged() {
		l.publish()
	}
}

// idleChanged reports whether the idle screen now says something else: a part's fault_grace ran
// out without any change of its health.
func (l *Lane) idleChanged() bool {
	if l.phase != PhaseIdle {
		return false
	}
	var v View
	l.renderIdle(&v)
	l.mu.Lock()
	defer l.mu.Unlock()
	return v.Reason != l.view.Reason || v.Prompt != l.view.Prompt
}

// tryDecide asks the policy with what is known; it reports whether the pass is decided.
func (l *Lane) tryDecide(ctx context.Context, now time.Time) bool {
	t := l.meas.temp()
	if l.meas.gen == l.usedGen && l.meas.stable {
		t = policy.Temp{State: policy.TempPending}
	}
	if l.tempDown(now) {
		t = policy.Temp{State: policy.TempDown}
	}
	if policy.Decide(l.cfg.Policy, l.input(ctx, t)).Outcome == policy.Undecided {
		return false
	}
	l.decide(ctx, now, t)
	return true
}

func (l *Lane) input(ctx context.Context, t policy.Temp) policy.Input {
	p := l.cur
	in := policy.Input{Card: p.card, Code: p.code, Temp: t, ReaderDown: l.partDown("reader", l.clock.Now())}
	in.Replica.Age = time.Duration(math.MaxInt64)
	if l.replica != nil && !l.cfg.Policy.StatusOff() {
		in.Replica.Age = l.replica.Age(ctx)
		if p.personKey != nil {
			row, ok, err := l.replica.Status(ctx, p.personKey)
			if err != nil {
				l.logger.Error("replica lookup", "err", err)
			}
			if ok {
				in.Replica.Found, in.Replica.Status, in.Replica.AsOf = true, policy.Status(row.Status), row.AsOf
			}
		}
	}
	return in
}

// decide settles the pass: the visit is written durably first; only then is the result shown and
// the gate opened. A visit that cannot be written turns into "out of service".
func (l *Lane) decide(ctx context.Context, now time.Time, t policy.Temp) {
	p := l.cur
	in := l.input(ctx, t)
	d := policy.Decide(l.cfg.Policy, in)
	if d.Outcome == policy.Undecided {
		d = policy.Decision{Outcome: policy.Retry, Reason: policy.ReasonNoTemperature}
	}
	switch t.State {
	case policy.TempStable:
		c := t.C // rounded once, by the measurer: the value decided on is the one shown and stored
		p.tempC = &c
		l.usedGen = l.meas.gen
	case policy.TempOutOfRange:
		// A hot cup or a cold room: no body temperature to show or store (the hub would refuse
		// 99.9 °C for good); the reason "remeasure" says what happened.
		p.tempC = nil
		l.usedGen = l.meas.gen
	}
	if d.Reason == policy.ReasonRemeasure {
		l.meas.restart() // the person stays; the next window is their second try
	}
	v := &store.Visit{
		At: now, Lane: l.cfg.Lane, Method: p.method, PersonKey: p.personKey, SealedID: p.sealedID,
		MaskedName: p.maskedName, TempC: p.tempC, Outcome: string(d.Outcome), Reason: string(d.Reason),
	}
	if err := l.append(ctx, v); err != nil {
		d = policy.Decision{Outcome: policy.Manual, Reason: policy.ReasonLogUnavailable}
	}
	p.decision, p.visitID = d, v.ID
	l.counter.observe(d.Outcome, l.clock.Since(p.lastInput))
	l.transition(PhaseDecided)
	l.signal(ctx, d.Outcome)
	l.deadline = now.Add(l.cfg.ShowFor)
	l.transition(PhaseShowing)
	l.logger.Info("pass decided", "outcome", d.Outcome, "reason", d.Reason, "method", p.method, "visit", v.ID)
}

func (l *Lane) append(ctx context.Context, v *store.Visit) error {
	if l.log == nil {
		err := errors.New("no visit log configured")
		l.setLogHealth(device.Health{State: device.Down, Reason: err.Error()})
		return err
	}
	if err := l.log.Append(ctx, v); err != nil {
		l.logger.Error("visit not logged: refusing to show a result", "err", err)
		l.setLogHealth(device.Health{State: device.Down, Reason: fmt.Sprintf("cannot write visits: %v", err)})
		l.counter.logged(false)
		return err
	}
	l.counter.logged(true)
	if l.logHealth.State != device.OK {
		l.setLogHealth(device.Healthy(l.clock.Now()))
	}
	return nil
}

func (l *Lane) setLogHealth(h device.Health) {
	if h.Since.IsZero() {
		h.Since = l.clock.Now()
	}
	l.logHealth = h
}

// signal drives the gate, LEDs and buzzer. Failures are logged; the screen already tells the person.
func (l *Lane) signal(ctx context.Context, o policy.Outcome) {
	s := l.parts.Signal
	if s == nil {
		return
	}
	var err error
	switch o {
	case policy.Pass:
		err = errors.Join(s.SetLED(device.LEDGreen), s.Buzz(device.BuzzShort), s.OpenGate(ctx, l.cfg.GatePulse))
	case policy.Deny:
		err = errors.Join(s.SetLED(device.LEDRed), s.Buzz(device.BuzzTriple))
	default:
		err = s.SetLED(device.LEDAmber)
	}
	if err != nil {
		l.logger.Warn("signal failed", "err", err)
	}
}

func (l *Lane) transition(to Phase) {
	l.phase = to
	if to == PhaseIdle {
		if s := l.parts.Signal; s != nil {
			if err := s.SetLED(device.LEDOff); err != nil {
				l.logger.Warn("signal failed", "err", err)
			}
		}
	}
	l.publish()
}

// checkNumber validates the certificate number for the card type and returns its canonical form.
func checkNumber(c *device.Card, now time.Time) (string, error) {
	return identity.ParseCert(certType(c.Type), c.Number, now)
}

func certType(t device.CardType) identity.CertType {
	if t == device.CardForeigner {
		return identity.CertForeigner
	}
	return identity.CertResident
}

// expired reports whether a card's "valid until" date (YYYYMMDD, or 长期) has passed.
func expired(validTo string, now time.Time) bool {
	until, err := time.ParseInLocation("20060102", validTo, now.Location())
	if err != nil {
		return false // 长期 (no expiry), or a field the reader left empty
	}
	return now.After(until.AddDate(0, 0, 1))
}

func joinMethod(have, add string) string {
	switch {
	case have == "" || have == "temp":
		return add
	case have == add:
		return have
	}
	return "card+code"
}
