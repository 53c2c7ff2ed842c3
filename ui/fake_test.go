package ui

import (
	"context"
	"sync"
	"time"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/broadcast"
	"onepass/kiosk/policy"
)

// fakeKiosk is a lane that publishes what the test tells it, with the lane's delivery rule: a slow
// subscriber loses intermediate views but always gets the latest.
type fakeKiosk struct {
	mu      sync.Mutex
	view    kiosk.View
	metrics kiosk.Metrics
	subs    broadcast.Latest[kiosk.View]
}

func newFake(v kiosk.View) *fakeKiosk {
	if v.Version == 0 {
		v.Version = 1
	}
	return &fakeKiosk{view: v}
}

func (f *fakeKiosk) View() kiosk.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view
}

func (f *fakeKiosk) Metrics() kiosk.Metrics {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.metrics
}

func (f *fakeKiosk) Subscribe(ctx context.Context) <-chan kiosk.View { return f.subs.Subscribe(ctx) }

func (f *fakeKiosk) subscribers() int { return f.subs.Len() }

// publish makes v the current view with the next version and returns it.
func (f *fakeKiosk) publish(v kiosk.View) kiosk.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	v.Version = f.view.Version + 1
	f.view = v
	f.subs.Send(v)
	return v
}

var t0 = time.Date(2026, 11, 26, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

func allHealthy() map[string]device.Health {
	h := map[string]device.Health{}
	for _, p := range []string{"reader", "thermometer", "camera", "printer", "signal", "store"} {
		h[p] = device.Healthy(t0)
	}
	return h
}

func idleView() kiosk.View {
	return kiosk.View{Lane: "1", State: kiosk.PhaseIdle, At: t0, Health: allHealthy()}
}

// decided is the view of a decided pass for reason r, with the policy's texts.
func decided(r policy.Reason, o policy.Outcome, passID string, temp float64) kiosk.View {
	t := policy.TextFor(r)
	v := idleView()
	v.State, v.PassID, v.Method = kiosk.PhaseShowing, passID, "card"
	v.Outcome, v.Reason = o, r
	v.MaskedName, v.MaskedID = "张*", "1101**********1234"
	v.TempC = &temp
	v.TitleZh, v.TitleEn, v.TextZh, v.TextEn, v.Sound = t.TitleZh, t.TitleEn, t.Zh, t.En, t.Sound
	return v
}
