package kiosk

import (
	"context"
	"maps"

	"onepass/device"
	"onepass/kiosk/policy"
)

// Texts of the screens that are not results.
const (
	idleZh    = "请刷身份证或出示健康码"
	idleEn    = "Please place your ID card or show your health code"
	measureZh = "请正对测温区"
	measureEn = "Please face the temperature sensor"
	cardZh    = "请刷身份证"
	cardEn    = "Please place your ID card"
	codeZh    = "请出示健康码"
	codeEn    = "Please show your health code"
)

// render builds the View for the current state. Called only by the Run goroutine (and New).
func (l *Lane) render() View {
	v := View{Lane: l.cfg.Lane, State: l.phase, At: l.clock.Now(), Health: l.health(), Unused: l.unused()}
	switch l.phase {
	case PhaseIdle:
		l.renderIdle(&v)
		if l.meas.stable && l.meas.gen != l.usedGen {
			if t := l.meas.temp(); t.State == policy.TempStable {
				c := t.C // already rounded, as it will be decided
				v.TempC = &c
			}
		}
	case PhaseIdentified, PhaseMeasuring:
		v.TitleZh, v.TitleEn, v.TextZh, v.TextEn = measureZh, measureEn, measureZh, measureEn
		v.Sound = "measure"
		v.MaskedName, v.MaskedID, v.Method = l.cur.maskedName, l.cur.maskedID, l.cur.method
	case PhaseCardWait:
		v.TitleZh, v.TitleEn, v.TextZh, v.TextEn = cardZh, cardEn, cardZh, cardEn
		v.Sound = "show_card"
		v.MaskedName, v.Method = l.cur.maskedName, l.cur.method
	case PhaseDecided, PhaseShowing:
		p := l.cur
		tx := l.cfg.Policy.Text(p.decision.Reason, p.decision.Outcome)
		v.Outcome, v.Reason, v.PassID, v.Method = p.decision.Outcome, p.decision.Reason, p.visitID, p.method
		v.MaskedName, v.MaskedID, v.TempC = p.maskedName, p.maskedID, p.tempC
		v.TitleZh, v.TitleEn, v.TextZh, v.TextEn, v.Sound = tx.TitleZh, tx.TitleEn, tx.Zh, tx.En, tx.Sound
	}
	return v
}

// renderIdle says what works: a broken part a pass depends on is not offered, and when no pass
// can be completed here the screen sends people to the staff lane (Reason set, no outcome).
func (l *Lane) renderIdle(v *View) {
	now := l.clock.Now()
	reader := l.parts.Reader != nil && !l.partDown("reader", now)
	// With no status check the code is not asked for: it would only identify, as the card does.
	camera := l.parts.Scanner != nil && !l.partDown("camera", now) && !l.cfg.Policy.StatusOff()
	zh, en := idleZh, idleEn
	switch {
	case l.tempDown(now):
		v.Reason = policy.ReasonThermometerDown
	case !reader && !camera:
		// No way in works: name the broken part (nothing fitted at all is a bench set-up).
		switch {
		case l.partDown("reader", now):
			v.Reason = policy.ReasonReaderDown
		case l.partDown("camera", now):
			v.Reason = policy.ReasonCameraDown
		}
	case !camera:
		v.Prompt, zh, en = PromptCardOnly, cardZh, cardEn
	case !reader:
		v.Prompt, zh, en = PromptCodeOnly, codeZh, codeEn
	}
	if v.Reason != "" {
		tx := l.cfg.Policy.Text(v.Reason, "")
		v.TitleZh, v.TitleEn, v.TextZh, v.TextEn = tx.TitleZh, tx.TitleEn, tx.Zh, tx.En
		return
	}
	v.TitleZh, v.TitleEn, v.TextZh, v.TextEn = zh, en, zh, en
}

// unused lists the fitted parts the policy leaves out: the thermometer when temperatures are
// not taken, the camera when no status is checked (the code is then not asked for).
func (l *Lane) unused() []string {
	var u []string
	if nilPart(l.parts.Scanner) != nil && l.cfg.Policy.StatusOff() {
		u = append(u, "camera")
	}
	if nilPart(l.parts.Thermometer) != nil && l.cfg.Policy.TemperatureOff() {
		u = append(u, "thermometer")
	}
	return u
}

func (l *Lane) health() map[string]device.Health {
	h := map[string]device.Health{"store": l.logHealth}
	add := func(name string, p device.Part) {
		if p == nil {
			h[name] = device.Health{State: device.NotConfigured}
			return
		}
		h[name] = p.Health()
	}
	add("reader", nilPart(l.parts.Reader))
	add("thermometer", nilPart(l.parts.Thermometer))
	add("camera", nilPart(l.parts.Scanner))
	add("printer", nilPart(l.parts.Printer))
	add("signal", nilPart(l.parts.Signal))
	if l.syncHealth != nil {
		h["sync"] = l.syncHealth()
	}
	return h
}

// nilPart turns a typed nil interface into an untyped nil, so "not fitted" is seen as such.
func nilPart[T device.Part](p T) device.Part {
	var d device.Part = p
	if d == nil {
		return nil
	}
	return d
}

func (l *Lane) healthChanged() bool {
	now := l.health()
	l.mu.Lock()
	defer l.mu.Unlock()
	return !maps.EqualFunc(now, l.view.Health, func(a, b device.Health) bool {
		return a.State == b.State && a.Reason == b.Reason
	})
}

// publish makes the current state the View everyone sees and hands it to every subscriber.
func (l *Lane) publish() {
	v := l.render()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.version++
	v.Version = l.version
	l.view = v
	l.subs.Send(v)
}

// View returns the current state.
func (l *Lane) View() View {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.view
}

// Subscribe delivers every new View until ctx is done, then closes the channel. A slow reader
// never blocks the lane: it may miss intermediate views but always gets the latest.
func (l *Lane) Subscribe(ctx context.Context) <-chan View { return l.subs.Subscribe(ctx) }

// Metrics returns the lane's counters and the parts' health.
func (l *Lane) Metrics() Metrics {
	m := l.counter.snapshot()
	m.Lane = l.cfg.Lane
	m.Health = l.View().Health
	return m
}
