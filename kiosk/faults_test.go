package kiosk

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"onepass/device"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// fakeCodes verifies codes from a table; a printed code's binding matches any valid card.
type fakeCodes struct {
	codes map[string]policy.Code
	calls []bool // per call: was a card given
}

func (f *fakeCodes) Verify(_ context.Context, text string, card *healthcode.Card) (policy.Code, string) {
	f.calls = append(f.calls, card != nil)
	c, ok := f.codes[text]
	if !ok {
		return policy.Code{Check: policy.CodeMalformed}, ""
	}
	if card != nil && policy.NeedsCard(c) {
		yes := true
		c.BindMatches = &yes
	}
	return c, "李*"
}

// newLaneHarness is newHarness with a camera and a code verifier fitted.
func newLaneHarness(t *testing.T, mod func(*Config)) (*harness, *fakeCodes) {
	t.Helper()
	h := newHarness(t, mod)
	codes := &fakeCodes{codes: map[string]policy.Code{
		"printed": {Check: policy.CodeValid, Class: policy.ClassPrinted, Status: policy.StatusGreen, IssuedAt: h.clock.Now()},
		"phone":   {Check: policy.CodeValid, Class: policy.ClassPhone, Status: policy.StatusGreen, IssuedAt: h.clock.Now()},
		"red":     {Check: policy.CodeValid, Class: policy.ClassPhone, Status: policy.StatusRed, IssuedAt: h.clock.Now()},
	}}
	h.lane = New(h.lane.cfg, Parts{Reader: h.rig.Reader, Thermometer: h.rig.Thermometer, Scanner: h.rig.Scanner, Signal: h.rig.Signal},
		Options{Log: h.log, Replica: h.rep, Codes: codes, Keys: h.keys, Clock: h.clock, Logger: slog.New(slog.DiscardHandler)})
	return h, codes
}

func (h *harness) fault(part string, st device.HealthState) {
	h.t.Helper()
	if err := h.rig.Fault(part, device.Health{State: st, Reason: "test"}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) scan(text string) View { return h.do(event{scan: &device.Scan{Text: text}}) }

func reasons(vs []store.Visit) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Reason)
	}
	return out
}

// A thermometer that stays down traps nobody: within fault_grace the lane still asks people to
// face it (RETRY), after it sends them to the staff lane at once, and when it is back all is as
// before.
func TestThermometerDownAfterGrace(t *testing.T) {
	h, _ := newLaneHarness(t, nil)
	h.fault("thermometer", device.Down)
	h.wait(0) // the lane sees the fault at 09:00:00
	h.card(goodID, "张三")
	if v := h.wait(9 * time.Second); v.Outcome != policy.Retry || v.Reason != policy.ReasonNoTemperature {
		t.Fatalf("before fault_grace (9 s): %+v", v)
	}
	v := h.wait(time.Second) // 10 s down: grace over, while the RETRY is still shown
	if v.State != PhaseShowing {
		t.Fatalf("the shown result was cut short: %+v", v)
	}
	v = h.wait(5 * time.Second)
	if v.State != PhaseIdle || v.Reason != policy.ReasonThermometerDown || v.TextZh != "测温设备故障，请到人工通道" {
		t.Fatalf("idle screen with the thermometer down: %+v", v)
	}
	if len(v.Unused) != 0 {
		t.Errorf("a required thermometer listed as unused: %q", v.Unused)
	}
	v = h.card(goodID, "张三")
	if v.Outcome != policy.Manual || v.Reason != policy.ReasonThermometerDown ||
		v.TextZh != "测温设备故障，请到人工通道" || v.TextEn != "Thermometer out of order, please use the staff lane" {
		t.Fatalf("after fault_grace: %+v", v)
	}
	if v.Sound != "manual" || v.MaskedName != "张*" || v.TempC != nil {
		t.Errorf("thermometer_down view: %+v", v)
	}
	// Back up: the next person is measured as usual.
	h.fault("thermometer", device.OK)
	if v := h.wait(6 * time.Second); v.State != PhaseIdle || v.Reason != "" {
		t.Fatalf("idle with the thermometer back: %+v", v)
	}
	h.card(goodID, "张三")
	if v := h.person(36.6); v.Outcome != policy.Pass {
		t.Fatalf("thermometer back: %+v", v)
	}
	if got := reasons(h.log.visits); !slices.Equal(got, []string{"no_temperature", "thermometer_down", "ok"}) {
		t.Errorf("visits %v", got)
	}
}

// Someone already measuring when the grace runs out is sent to staff then, not after the timeout.
func TestThermometerGraceEndsWhileMeasuring(t *testing.T) {
	h, _ := newLaneHarness(t, func(c *Config) { c.Measure.FaultGrace = 3 * time.Second })
	h.fault("thermometer", device.Down)
	h.wait(0)
	if v := h.card(goodID, "张三"); v.State != PhaseMeasuring {
		t.Fatalf("within grace: %+v", v)
	}
	if v := h.wait(2 * time.Second); v.State != PhaseMeasuring {
		t.Fatalf("2 s: %+v", v)
	}
	if v := h.wait(time.Second); v.Outcome != policy.Manual || v.Reason != policy.ReasonThermometerDown {
		t.Fatalf("grace over while measuring: %+v", v)
	}
}

func TestTemperatureOff(t *testing.T) {
	h, _ := newLaneHarness(t, func(c *Config) { c.Policy.Temperature = policy.Off })
	h.fault("thermometer", device.Down)
	h.wait(time.Minute)
	if v := h.lane.View(); v.Reason != "" || v.TitleZh != idleZh {
		t.Fatalf("a thermometer the hall does not use sent people away: %+v", v)
	} else if !slices.Equal(v.Unused, []string{"thermometer"}) {
		t.Errorf("unused parts %q, want [thermometer] (the staff console must not say its fault stops passes)", v.Unused)
	}
	h.person(38.5) // a fever in front is nobody's business here
	if len(h.log.visits) != 0 {
		t.Fatalf("temperature decided with temperature off: %+v", h.log.visits)
	}
	phases := h.watch()
	v := h.card(goodID, "张三")
	if v.Outcome != policy.Pass || v.Reason != policy.ReasonOK || v.TempC != nil {
		t.Fatalf("card with temperature off: %+v", v)
	}
	if v.TextZh != "核验通过，请通行" || v.TextEn != "Check complete, please pass" || v.Sound != "" {
		t.Errorf("the pass screen speaks of temperature: %+v", v)
	}
	if got := phases(); slices.Contains(got, PhaseMeasuring) {
		t.Errorf("measured with temperature off: %v", got)
	}
	if h.log.visits[0].TempC != nil {
		t.Errorf("visit has a temperature: %+v", h.log.visits[0])
	}
}

func TestStatusOff(t *testing.T) {
	h, _ := newLaneHarness(t, func(c *Config) { c.Policy.Status = policy.Off; c.Policy.AbsentStatus = policy.AbsentManual })
	h.rep.age = 48 * time.Hour // stale, and no row for anyone: MANUAL if the status counted
	h.wait(0)
	if v := h.lane.View(); v.Prompt != PromptCardOnly || v.TitleZh != "请刷身份证" || v.TitleEn != "Please place your ID card" {
		t.Fatalf("idle asks for a health code with status off: %+v", v)
	} else if !slices.Equal(v.Unused, []string{"camera"}) {
		t.Errorf("unused parts %q, want [camera]", v.Unused)
	}
	h.card(goodID, "张三")
	if v := h.person(36.6); v.Outcome != policy.Pass || v.Reason != policy.ReasonOK || v.TextZh != "体温正常，请通行" {
		t.Fatalf("card with status off: %+v", v)
	}
	// An invalid card is still refused: the identity is what is checked.
	h.wait(6 * time.Second)
	if v := h.card("110101199003074478", "李四"); v.Reason != policy.ReasonIDInvalid {
		t.Fatalf("invalid card with status off: %+v", v)
	}
	// A code's colour is not judged either.
	h.wait(6 * time.Second)
	h.scan("red")
	if v := h.person(36.6); v.Outcome != policy.Pass {
		t.Fatalf("red code with status off: %+v", v)
	}
}

// A printed code shown before the card waits card_wait for it.
func TestPrintedCodeWaitsForCard(t *testing.T) {
	t.Run("card comes", func(t *testing.T) {
		h, codes := newLaneHarness(t, nil)
		v := h.scan("printed")
		if v.State != PhaseCardWait || v.TitleZh != "请刷身份证" || v.TitleEn != "Please place your ID card" || v.Sound != "show_card" {
			t.Fatalf("printed code first: %+v", v)
		}
		if v := h.wait(7 * time.Second); v.State != PhaseCardWait {
			t.Fatalf("7 s: %+v", v)
		}
		if v := h.card(goodID, "张三"); v.State != PhaseMeasuring || v.Method != "card+code" {
			t.Fatalf("card within card_wait: %+v", v)
		}
		if !slices.Equal(codes.calls, []bool{false, true}) {
			t.Errorf("the code's binding was not checked against the card: %v", codes.calls)
		}
		if v := h.person(36.6); v.Outcome != policy.Pass || v.Method != "card+code" {
			t.Fatalf("card+code: %+v", v)
		}
	})
	t.Run("no card", func(t *testing.T) {
		h, _ := newLaneHarness(t, nil)
		h.scan("printed")
		h.wait(7 * time.Second)
		v := h.wait(time.Second)
		if v.Outcome != policy.Manual || v.Reason != policy.ReasonCodeNeedsCard {
			t.Fatalf("no card within card_wait: %+v", v)
		}
		if len(h.log.visits) != 1 || h.log.visits[0].Method != "code" {
			t.Errorf("visits: %+v", h.log.visits)
		}
	})
	t.Run("reader down", func(t *testing.T) {
		h, _ := newLaneHarness(t, nil)
		h.fault("reader", device.Down)
		h.wait(0)
		h.wait(10 * time.Second)
		if v := h.scan("printed"); v.Outcome != policy.Manual || v.Reason != policy.ReasonReaderDown {
			t.Fatalf("printed code with the reader down: %+v", v)
		}
	})
	t.Run("card_wait 0", func(t *testing.T) {
		h, _ := newLaneHarness(t, func(c *Config) { c.CardWait = 0 })
		if v := h.scan("printed"); v.Reason != policy.ReasonCodeNeedsCard {
			t.Fatalf("card_wait 0: %+v", v)
		}
	})
	t.Run("phone code does not wait", func(t *testing.T) {
		h, _ := newLaneHarness(t, nil)
		if v := h.scan("phone"); v.State != PhaseMeasuring {
			t.Fatalf("phone code: %+v", v)
		}
	})
}

// The idle screen offers only the ways in that work.
func TestIdlePromptFollowsParts(t *testing.T) {
	for _, tt := range []struct {
		down   []string
		prompt string
		reason policy.Reason
		zh     string
	}{
		{nil, "", "", idleZh},
		{[]string{"camera"}, PromptCardOnly, "", "请刷身份证"},
		{[]string{"reader"}, PromptCodeOnly, "", "请出示健康码"},
		{[]string{"reader", "camera"}, "", policy.ReasonReaderDown, "人工核验"},
		{[]string{"thermometer"}, "", policy.ReasonThermometerDown, "人工核验"},
	} {
		h, _ := newLaneHarness(t, nil)
		for _, p := range tt.down {
			h.fault(p, device.Down)
		}
		h.wait(0)
		if v := h.wait(9 * time.Second); v.Prompt != "" || v.Reason != "" {
			t.Errorf("%v within grace: prompt %q reason %q", tt.down, v.Prompt, v.Reason)
		}
		v := h.wait(time.Second)
		if v.Prompt != tt.prompt || v.Reason != tt.reason || v.TitleZh != tt.zh || v.Outcome != "" {
			t.Errorf("%v down: prompt %q reason %q title %q", tt.down, v.Prompt, v.Reason, v.TitleZh)
		}
	}
}

// An appointment code shown before any pass gets an answer saying what to do.
func TestNoticeBeforePass(t *testing.T) {
	h, _ := newLaneHarness(t, nil)
	h.lane.Notice(context.Background(), policy.ReasonCheckInNeedsPass)
	v := h.do(<-h.lane.events)
	if v.State != PhaseShowing || v.Outcome != "" || v.Reason != policy.ReasonCheckInNeedsPass || v.PassID != "" {
		t.Fatalf("notice: %+v", v)
	}
	if v.TextZh != "请先刷身份证或出示健康码通行后再签到" || v.TextEn != "Please pass the check first, then show your appointment code" {
		t.Errorf("notice texts: %+v", v)
	}
	if len(h.log.visits) != 0 {
		t.Errorf("a notice was logged as a visit: %+v", h.log.visits)
	}
	if v := h.wait(5 * time.Second); v.State != PhaseIdle {
		t.Fatalf("after ShowFor: %+v", v)
	}
	// The citizen then passes as usual.
	h.card(goodID, "张三")
	if v := h.person(36.6); v.Outcome != policy.Pass {
		t.Fatalf("pass after the notice: %+v", v)
	}
	// A notice while someone is being measured does not end their pass.
	h.wait(6 * time.Second)
	h.card(goodID, "张三")
	if v := h.do(event{notice: policy.ReasonCheckInNeedsPass}); v.State != PhaseMeasuring {
		t.Fatalf("notice during a pass: %+v", v)
	}
}
