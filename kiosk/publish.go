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
)

// render builds the View for the current state. Called only by the Run goroutine (and New).
func (l *Lane) render() View {
	v := View{Lane: l.cfg.Lane, State: l.phase, At: l.clock.Now(), Health: l.health()}
	switch l.phase {
	case PhaseIdle:
		v.TitleZh, v.TitleEn, v.TextZh, v.TextEn = idleZh, idleEn, idleZh, idleEn
		if l.meas.stable && l.meas.gen != l.usedGen {
			if t := l.meas.temp(); t.State == policy.TempStable {
				c := round1(t.C)
				v.TempC = &c
			}
		}
	case PhaseIdentified, PhaseMeasuring:
		v.TitleZh, v.TitleEn, v.TextZh, v.TextEn = measureZh, measureEn, measureZh, measureEn
		v.Sound = "measure"
		v.MaskedName, v.MaskedID, v.Method = l.cur.maskedName, l.cur.maskedID, l.cur.method
	case PhaseDecided, PhaseShowing:
		p := l.cur
		tx := policy.TextForOutcome(p.decision.Reason, p.decision.Outcome)
		v.Outcome, v.Reason, v.PassID, v.Method = p.decision.Outcome, p.decision.Reason, p.visitID, p.method
		v.MaskedName, v.MaskedID, v.TempC = p.maskedName, p.maskedID, p.tempC
		v.TitleZh, v.TitleEn, v.TextZh, v.TextEn, v.Sound = tx.TitleZh, tx.TitleEn, tx.Zh, tx.En, tx.Sound
	}
	return v
}

func round1(c float64) float64 { return float64(int(c*10+0.5)) / 10 }

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
