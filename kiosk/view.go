package kiosk

import (
	"time"

	"onepass/device"
	"onepass/kiosk/policy"
)

// Phase is the lane's state in the pass flow.
type Phase string

// The pass flow: idle → identified → measuring → decided → showing → idle. A printed code shown
// before the card goes identified → card_wait until the card comes (or [lane] card_wait passes).
const (
	PhaseIdle       Phase = "idle"
	PhaseIdentified Phase = "identified"
	PhaseCardWait   Phase = "card_wait"
	PhaseMeasuring  Phase = "measuring"
	PhaseDecided    Phase = "decided"
	PhaseShowing    Phase = "showing"
)

// Prompts of the idle screen when not every way in works.
const (
	PromptCardOnly = "card" // the camera is down, or the hall checks no health status: ask for the card only
	PromptCodeOnly = "code" // the card reader is down: ask for a code only
)

// View is the lane's state as the screen shows it. Every transition produces a new View with a
// higher Version; the UI sends it as is (GET /api/state, GET /events).
type View struct {
	Version    uint64                   `json:"version"`
	Lane       string                   `json:"lane"`
	State      Phase                    `json:"state"`
	PassID     string                   `json:"pass_id,omitempty"` // the visit's UUIDv7 once logged
	Method     string                   `json:"method,omitempty"`  // card, code, card+code; staff for a staff decision
	Outcome    policy.Outcome           `json:"outcome"`
	Reason     policy.Reason            `json:"reason"`           // also on idle: a broken part sends people to staff; on showing without an outcome: a notice
	Prompt     string                   `json:"prompt,omitempty"` // idle: PromptCardOnly or PromptCodeOnly, "" for both
	MaskedName string                   `json:"masked_name"`
	MaskedID   string                   `json:"masked_id"`
	TempC      *float64                 `json:"temp_c"`
	TitleZh    string                   `json:"title_zh"`
	TitleEn    string                   `json:"title_en"`
	TextZh     string                   `json:"text_zh"`
	TextEn     string                   `json:"text_en"`
	Sound      string                   `json:"sound,omitempty"` // voice clip to play: /audio/<sound>.wav
	At         time.Time                `json:"at"`
	Health     map[string]device.Health `json:"health"`
	// Unused names the fitted parts the hall's policy does not use ([policy] temperature or
	// status "off"): their faults stop no pass, so the staff console must not say they do.
	Unused []string `json:"unused,omitempty"`
}
