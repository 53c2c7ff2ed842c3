package kiosk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/drivers/idcard/idcardsim"
	"onepass/drivers/sim"
	"onepass/identity"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/sync/store"
	"onepass/sync/wire"
)

const goodID = "110101199003074477"

type memLog struct {
	mu     sync.Mutex
	visits []store.Visit
	err    error
}

func (m *memLog) Append(ctx context.Context, v *store.Visit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if err := wire.CheckVisit(v.WireVisit()); err != nil {
		return err // as the real store: the lane must never log what the hub refuses
	}
	v.ID = "visit-" + string(rune('a'+len(m.visits)))
	m.visits = append(m.visits, *v)
	return nil
}

type memReplica struct {
	rows map[string]store.StatusRow
	age  time.Duration
}

func (r *memReplica) Status(ctx context.Context, key []byte) (store.StatusRow, bool, error) {
	row, ok := r.rows[string(key)]
	return row, ok, nil
}
func (r *memReplica) Age(ctx context.Context) time.Duration { return r.age }

// harness drives a lane's state machine directly, one event at a time, on a fake clock.
type harness struct {
	t      *testing.T
	lane   *Lane
	log    *memLog
	rep    *memReplica
	clock  *clockwork.FakeClock
	phases []Phase
	rig    *sim.Rig
	keys   Keys
	priv   []byte
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	priv, pub, err := identity.NewPlatformKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := identity.NewSealer(pub)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Policy.AbsentStatus = policy.AbsentGreen
	if mod != nil {
		mod(&cfg)
	}
	h := &harness{t: t, log: &memLog{}, rep: &memReplica{rows: map[string]store.StatusRow{}, age: time.Minute},
		clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 26, 9, 0, 0, 0, time.Local)), rig: sim.NewRig(), priv: priv}
	h.keys = Keys{Deployment: bytes.Repeat([]byte{7}, 32), Sealer: sealer}
	h.lane = New(cfg, Parts{Reader: h.rig.Reader, Thermometer: h.rig.Thermometer, Signal: h.rig.Signal},
		Options{Log: h.log, Replica: h.rep, Keys: h.keys, Clock: h.clock, Logger: slog.New(slog.DiscardHandler)})
	return h
}

func (h *harness) do(ev event) View {
	h.t.Helper()
	ev.at = h.clock.Now()
	before := h.lane.View().Version
	h.lane.handle(context.Background(), ev)
	v := h.lane.View()
	if v.Version != before && (len(h.phases) == 0 || h.phases[len(h.phases)-1] != v.State) {
		h.phases = append(h.phases, v.State)
	}
	return v
}

// transitions records every phase the lane went through, including those passed in one event.
func (h *harness) watch() func() []Phase {
	ctx, cancel := context.WithCancel(context.Background())
	ch := h.lane.Subscribe(ctx)
	var mu sync.Mutex
	var got []Phase
	done := make(chan struct{})
	go func() {
		defer close(done)
		for v := range ch {
			mu.Lock()
			if len(got) == 0 || got[len(got)-1] != v.State {
				got = append(got, v.State)
			}
			mu.Unlock()
		}
	}()
	return func() []Phase {
		cancel()
		<-done
		return got
	}
}

func (h *harness) card(id, name string) View {
	c := idcardsim.CardRequest{ID: id, Name: name}.Card(h.clock.Now())
	return h.do(event{card: &c})
}

// reading is what the sensor reports, in a 25 °C room, for a person whose body temperature is c:
// the forehead is cooler than the body, and the lane's skin-to-body compensation maps it back to c.
func (h *harness) reading(c float64) *device.TempReading {
	return &device.TempReading{ObjectC: h.lane.cfg.Measure.ObjectFor(c, 25), AmbientC: 25}
}

// person feeds readings of someone stepping in at c until a stable reading forms: the readings of
// the settling time, then a window.
func (h *harness) person(c float64) View {
	h.leave()
	m := h.lane.cfg.Measure
	var v View
	for range int((m.Settle+h.lane.cfg.PollEvery-1)/h.lane.cfg.PollEvery) + m.Window {
		h.clock.Advance(h.lane.cfg.PollEvery)
		v = h.do(event{temp: h.reading(c)})
	}
	return v
}

func (h *harness) leave() {
	h.clock.Advance(h.lane.cfg.PollEvery)
	h.do(event{temp: &device.TempReading{ObjectC: 25, AmbientC: 25}})
}

func (h *harness) wait(d time.Duration) View {
	h.clock.Advance(d)
	return h.do(event{tick: true})
}

func TestCardThenTemperaturePasses(t *testing.T) {
	h := newHarness(t, nil)
	v := h.card(goodID, "张三")
	if v.State != PhaseMeasuring || v.MaskedName != "张*" || v.MaskedID != "1101**********4477" {
		t.Fatalf("after card: %+v", v)
	}
	v = h.person(36.6)
	if v.State != PhaseShowing || v.Outcome != policy.Pass || v.Reason != policy.ReasonOK {
		t.Fatalf("after temperature: %+v", v)
	}
	if v.TempC == nil || *v.TempC != 36.6 || v.TextZh != "体温正常，请通行" || v.PassID == "" {
		t.Fatalf("pass view: %+v temp=%v", v, v.TempC)
	}
	if st := h.rig.Signal.State(); st.GatePulses != 1 || st.LED != "green" || st.Buzz != "short" {
		t.Errorf("signal: %+v", st)
	}
	if len(h.log.visits) != 1 {
		t.Fatalf("visits: %d", len(h.log.visits))
	}
	vis := h.log.visits[0]
	if vis.Method != "card" || vis.Outcome != "PASS" || vis.MaskedName != "张*" || *vis.TempC != 36.6 {
		t.Errorf("visit: %+v", vis)
	}
	if !bytes.Equal(vis.PersonKey, identity.PersonKey(h.keys.Deployment, identity.CertResident, goodID)) {
		t.Error("person key is not the HMAC of the card")
	}
	if got, err := identity.Open(h.priv, vis.SealedID); err != nil || got != "10|"+goodID {
		t.Errorf("sealed id opens to %q, %v", got, err)
	}
	v = h.wait(5 * time.Second)
	if v.State != PhaseIdle || v.Outcome != "" {
		t.Errorf("after ShowFor: %+v", v)
	}
}

func TestEveryTransitionIsAnEvent(t *testing.T) {
	h := newHarness(t, nil)
	phases := h.watch()
	h.card(goodID, "张三")
	h.person(36.6)
	h.wait(6 * time.Second)
	want := []Phase{PhaseIdentified, PhaseMeasuring, PhaseDecided, PhaseShowing, PhaseIdle}
	// The subscriber may coalesce views it was slow to read; every phase it saw is in order.
	got := phases()
	if !isSubsequence(got, want) || got[len(got)-1] != PhaseIdle {
		t.Errorf("phases seen %v, want in order %v", got, want)
	}
	if !slices.Equal(h.phasesDirect(), want) {
		t.Logf("direct phases %v", h.phases)
	}
}

func (h *harness) phasesDirect() []Phase { return h.phases }

func isSubsequence(got, want []Phase) bool {
	i := 0
	for _, p := range got {
		for i < len(want) && want[i] != p {
			i++
		}
		if i == len(want) {
			return false
		}
	}
	return true
}

func TestFeverForTheNextPerson(t *testing.T) {
	h := newHarness(t, nil)
	h.card(goodID, "张三")
	h.person(36.6)
	v := h.person(38.1) // the next person steps in while the pass is still shown
	if v.Outcome != policy.Deny || v.Reason != policy.ReasonFever || v.TextZh != "体温异常，请到人工通道复测" || v.TextEn != "Temperature high, please see staff" {
		t.Fatalf("fever view: %+v", v)
	}
	if *v.TempC != 38.1 || v.MaskedName != "" {
		t.Errorf("fever shows %v °C, name %q", *v.TempC, v.MaskedName)
	}
	if len(h.log.visits) != 2 || h.log.visits[1].Method != "temp" || h.log.visits[1].Reason != "fever" {
		t.Errorf("visits: %+v", h.log.visits)
	}
	if st := h.rig.Signal.State(); st.GatePulses != 1 || st.LED != "red" || st.Buzz != "triple" {
		t.Errorf("signal after fever: %+v", st)
	}
}

func TestFeverIsRefusedOncePerPresence(t *testing.T) {
	h := newHarness(t, nil)
	h.person(38.1)
	// Someone reaches past with an invalid card while the feverish person still stands there.
	if v := h.card("110101199003074478", "李四"); v.Reason != policy.ReasonIDInvalid {
		t.Fatalf("invalid card: %+v", v)
	}
	for range 12 {
		h.clock.Advance(h.lane.cfg.PollEvery)
		h.do(event{temp: h.reading(38.1)})
	}
	var reasons []string
	for _, v := range h.log.visits {
		reasons = append(reasons, v.Reason)
	}
	if !slices.Equal(reasons, []string{"fever", "id_invalid"}) {
		t.Fatalf("visits %v: the same standing person was refused twice", reasons)
	}
	// A new person with a fever, after a gap, is refused again.
	if v := h.person(38.4); v.Reason != policy.ReasonFever || len(h.log.visits) != 3 {
		t.Fatalf("next feverish person: %+v", v)
	}
}

func TestTemperatureFirstThenCard(t *testing.T) {
	h := newHarness(t, nil)
	v := h.person(36.5)
	if v.State != PhaseIdle || v.TempC == nil || *v.TempC != 36.5 {
		t.Fatalf("idle with temperature: %+v", v)
	}
	v = h.card(goodID, "张三")
	if v.Outcome != policy.Pass {
		t.Fatalf("card after temperature: %+v", v)
	}
}

func TestNoStableTemperatureRetries(t *testing.T) {
	h := newHarness(t, nil)
	h.card(goodID, "张三")
	h.wait(7 * time.Second)
	if v := h.lane.View(); v.State != PhaseMeasuring {
		t.Fatalf("before timeout: %s", v.State)
	}
	// Readings that never settle.
	for i := range 8 {
		h.clock.Advance(250 * time.Millisecond)
		h.do(event{temp: h.reading(35 + float64(i%2))})
	}
	v := h.wait(time.Second)
	if v.Outcome != policy.Retry || v.Reason != policy.ReasonNoTemperature {
		t.Fatalf("timeout: %+v", v)
	}
}

// TestOneTemperature: the reading is rounded once; the outcome, the screen and the log all see
// that value. An implausible reading is RETRY with no temperature shown or logged.
func TestOneTemperature(t *testing.T) {
	for _, tc := range []struct {
		body    float64
		card    bool
		outcome policy.Outcome
		reason  policy.Reason
		temp    float64 // 0: none shown or logged
	}{
		{37.29, true, policy.Deny, policy.ReasonFever, 37.3},
		{37.24, true, policy.Pass, policy.ReasonOK, 37.2},
		{42.96, true, policy.Deny, policy.ReasonFever, 43.0},
		{43.04, true, policy.Deny, policy.ReasonFever, 43.0}, // the range edge is inside
		{43.06, true, policy.Retry, policy.ReasonRemeasure, 0},
		{99.9, true, policy.Retry, policy.ReasonRemeasure, 0}, // a hot cup
		{34.04, true, policy.Pass, policy.ReasonOK, 34.0},
		{33.94, true, policy.Retry, policy.ReasonRemeasure, 0},
		{37.29, false, policy.Deny, policy.ReasonFever, 37.3}, // a fever with no identity
	} {
		h := newHarness(t, nil)
		if tc.card {
			h.card(goodID, "张三")
		}
		v := h.person(tc.body)
		if v.Outcome != tc.outcome || v.Reason != tc.reason || len(h.log.visits) != 1 {
			t.Errorf("%v °C: %s %s (%d visits), want %s %s", tc.body, v.Outcome, v.Reason, len(h.log.visits), tc.outcome, tc.reason)
			continue
		}
		logged := h.log.visits[0].TempC
		if tc.temp == 0 {
			if v.TempC != nil || logged != nil {
				t.Errorf("%v °C: shown %v, logged %v; want no temperature", tc.body, v.TempC, logged)
			}
			continue
		}
		if v.TempC == nil || logged == nil || *v.TempC != tc.temp || *logged != tc.temp {
			t.Errorf("%v °C: shown %v, logged %v; want %v", tc.body, v.TempC, logged, tc.temp)
		}
	}
}

// TestIdleScreenShowsTheRoundedReading: before a card, the idle screen shows the value that will
// be decided on.
func TestIdleScreenShowsTheRoundedReading(t *testing.T) {
	h := newHarness(t, nil)
	if v := h.person(37.24); v.State != PhaseIdle || v.TempC == nil || *v.TempC != 37.2 {
		t.Fatalf("idle: %+v", v)
	}
	if v := h.card(goodID, "张三"); v.Outcome != policy.Pass || v.TempC == nil || *v.TempC != 37.2 || *h.log.visits[0].TempC != 37.2 {
		t.Fatalf("after the card: %+v", v)
	}
}

type nameCode string

func (n nameCode) Verify(context.Context, string, *healthcode.Card) (policy.Code, string) {
	return policy.Code{Check: policy.CodeValid, Class: policy.ClassPhone, Status: policy.StatusGreen}, string(n)
}

// TestCodeNameIsMasked: a code's name is shown as the issuer masked it, and masked here when the
// issuer did not.
func TestCodeNameIsMasked(t *testing.T) {
	for in, want := range map[string]string{"张三": "张*", "张*": "张*", "张*丰": "张*丰", "": ""} {
		h := newHarness(t, nil)
		h.lane.codes = nameCode(in)
		if v := h.do(event{scan: &device.Scan{Text: "JKM1:x"}}); v.MaskedName != want {
			t.Errorf("code name %q shown as %q, want %q", in, v.MaskedName, want)
		}
	}
}

func TestOutOfRangeRemeasures(t *testing.T) {
	h := newHarness(t, nil)
	h.card(goodID, "张三")
	if v := h.person(33.0); v.Outcome != policy.Retry || v.Reason != policy.ReasonRemeasure {
		t.Fatalf("33 °C: %+v", v)
	}
	// Still in front, the reading settles at a plausible value: the same card now passes.
	var v View
	for range h.lane.cfg.Measure.Window {
		h.clock.Advance(h.lane.cfg.PollEvery)
		v = h.do(event{temp: h.reading(36.5)})
	}
	if v.Outcome != policy.Pass || v.MaskedName != "张*" || len(h.log.visits) != 2 {
		t.Fatalf("second try: %+v (%d visits)", v, len(h.log.visits))
	}
}

func TestRetryAfterTimeoutKeepsTheCard(t *testing.T) {
	h := newHarness(t, nil)
	h.card(goodID, "张三")
	if v := h.wait(9 * time.Second); v.Reason != policy.ReasonNoTemperature {
		t.Fatalf("timeout: %+v", v)
	}
	// The citizen faces the sensor as the screen asks, without swiping the card again.
	if v := h.person(36.6); v.Outcome != policy.Pass || v.MaskedID != "1101**********4477" {
		t.Fatalf("after facing the sensor: %+v", v)
	}
}

func TestInvalidIDIsRefusedAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	v := h.card("110101199003074478", "李四")
	if v.Outcome != policy.Deny || v.Reason != policy.ReasonIDInvalid || v.TitleZh != "证件无效" || v.TitleEn != "Invalid ID" {
		t.Fatalf("invalid id: %+v", v)
	}
	if v.MaskedID != "" || h.log.visits[0].PersonKey != nil || h.log.visits[0].SealedID != nil {
		t.Errorf("an invalid number must not be keyed or sealed: %+v", h.log.visits[0])
	}
}

func TestExpiredCard(t *testing.T) {
	h := newHarness(t, nil)
	c := idcardsim.CardRequest{ID: goodID, Name: "张三", ValidTo: "20200101"}.Card(h.clock.Now())
	if v := h.do(event{card: &c}); v.Reason != policy.ReasonCardExpired {
		t.Fatalf("expired card: %+v", v)
	}
	c = idcardsim.CardRequest{ID: goodID, Name: "张三", ValidTo: "长期"}.Card(h.clock.Now())
	if v := h.do(event{card: &c}); v.State != PhaseMeasuring {
		t.Fatalf("长期 card: %+v", v)
	}
}

func TestRedStatusDenies(t *testing.T) {
	h := newHarness(t, nil)
	key := identity.PersonKey(h.keys.Deployment, identity.CertResident, goodID)
	h.rep.rows[string(key)] = store.StatusRow{PersonKey: key, Status: int(policy.StatusRed), AsOf: h.clock.Now()}
	h.card(goodID, "张三")
	if v := h.person(36.6); v.Reason != policy.ReasonStatusRed {
		t.Fatalf("red: %+v", v)
	}
}

func TestStaleReplicaIsManual(t *testing.T) {
	h := newHarness(t, nil)
	h.rep.age = 2 * time.Hour
	h.card(goodID, "张三")
	if v := h.person(36.6); v.Outcome != policy.Manual || v.Reason != policy.ReasonStatusStale {
		t.Fatalf("stale: %+v", v)
	}
}

func TestNewCardDuringShowingStartsNewPass(t *testing.T) {
	h := newHarness(t, nil)
	h.card(goodID, "张三")
	first := h.person(36.6)
	v := h.card("11010519491231002X", "王五")
	if v.State != PhaseMeasuring || v.MaskedName != "王*" {
		t.Fatalf("new card during showing: %+v", v)
	}
	// The previous person's reading is not reused, even though nobody stepped away.
	for range DefaultMeasure().Window - 1 {
		h.clock.Advance(250 * time.Millisecond)
		v = h.do(event{temp: h.reading(36.4)})
	}
	if v.State != PhaseMeasuring {
		t.Fatalf("decided before a fresh window: %+v", v)
	}
	h.clock.Advance(250 * time.Millisecond)
	v = h.do(event{temp: h.reading(36.4)})
	if v.Outcome != policy.Pass || v.PassID == first.PassID || *v.TempC != 36.4 {
		t.Fatalf("second pass: %+v", v)
	}
}

func TestSameCardIsNotProcessedTwice(t *testing.T) {
	rig := sim.NewRig()
	rig.Reader.Place(idcardsim.CardRequest{ID: goodID, Name: "张三"}.Card(time.Now()))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := rig.Reader.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rig.Reader.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the card still on the reader was reported again: %v", err)
	}
}

func TestUnloggableVisitShowsOutOfService(t *testing.T) {
	h := newHarness(t, nil)
	h.log.err = errors.New("disk full")
	h.card(goodID, "张三")
	v := h.person(36.6)
	if v.Outcome != policy.Manual || v.Reason != policy.ReasonLogUnavailable {
		t.Fatalf("unlogged pass shown: %+v", v)
	}
	if v.Health["store"].State != device.Down {
		t.Errorf("store health: %+v", v.Health["store"])
	}
	if h.rig.Signal.State().GatePulses != 0 {
		t.Error("gate opened for a visit that was not logged")
	}
	// The disk recovers: the next pass is logged and shown.
	h.log.err = nil
	h.wait(6 * time.Second)
	h.card(goodID, "张三")
	if v := h.person(36.7); v.Outcome != policy.Pass || v.Health["store"].State != device.OK {
		t.Fatalf("after recovery: %+v", v)
	}
}

func TestHealthChangeIsPublished(t *testing.T) {
	h := newHarness(t, nil)
	before := h.lane.View().Version
	if err := h.rig.Fault("reader", device.Health{State: device.Down, Reason: "port gone"}); err != nil {
		t.Fatal(err)
	}
	v := h.wait(time.Second)
	if v.Version == before || v.Health["reader"].State != device.Down || v.Health["camera"].State != device.NotConfigured {
		t.Fatalf("health: %+v", v.Health)
	}
}

func TestSlowSubscriberGetsLatest(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ch := h.lane.Subscribe(ctx)
	for range 5 {
		h.lane.publish()
	}
	v := <-ch
	if v.Version != h.lane.View().Version {
		t.Errorf("got version %d, latest %d", v.Version, h.lane.View().Version)
	}
	cancel()
	for range ch {
	}
}
