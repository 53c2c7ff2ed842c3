package policy

// Reason is a stable machine-readable code for why an outcome was chosen. Reason codes go into the
// visit log and to the platform; the texts are for the screen.
type Reason string

// Reasons.
const (
	ReasonOK                  Reason = "ok"
	ReasonFever               Reason = "fever"
	ReasonStatusRed           Reason = "status_red"
	ReasonStatusYellow        Reason = "status_yellow"
	ReasonStatusUnknown       Reason = "status_unknown"
	ReasonStatusStale         Reason = "status_stale"
	ReasonIDInvalid           Reason = "id_invalid"
	ReasonCardExpired         Reason = "card_expired"
	ReasonCodeMalformed       Reason = "code_malformed"
	ReasonCodeUntrusted       Reason = "code_untrusted"
	ReasonCodeForged          Reason = "code_forged"
	ReasonCodeExpired         Reason = "code_expired"
	ReasonCodeNotYetValid     Reason = "code_not_yet_valid"
	ReasonCodeRevoked         Reason = "code_revoked"
	ReasonCodeClassNotAllowed Reason = "code_class_not_allowed"
	ReasonCodeWrongPerson     Reason = "code_wrong_person"
	ReasonCodeNeedsCard       Reason = "code_needs_card"
	ReasonCodeNotOffline      Reason = "code_not_offline"
	ReasonTimeUntrusted       Reason = "time_untrusted"
	ReasonNoTemperature       Reason = "no_temperature"
	ReasonRemeasure           Reason = "remeasure"
	ReasonLogUnavailable      Reason = "log_unavailable" // set by the lane when the visit cannot be written
	ReasonThermometerDown     Reason = "thermometer_down"
	ReasonReaderDown          Reason = "reader_down"
	// ReasonCameraDown is shown on the idle screen of a lane whose only way in is the camera.
	ReasonCameraDown Reason = "camera_down"
	// ReasonCheckInNeedsPass is a notice, not a decision: an appointment code shown before a pass.
	ReasonCheckInNeedsPass Reason = "checkin_needs_pass"
	// ReasonStaffOverride: a staff member decided a MANUAL visit (PASS or DENY).
	ReasonStaffOverride Reason = "staff_override" // decided a MANUAL visit (PASS or DENY)
)

// Text is what the screen shows for a reason: one big word, a sentence, and the voice clip.
type Text struct {
	TitleZh, TitleEn string // the big word: 通行 / 禁止通行 / 请联系工作人员 / 请重试
	Zh, En           string
	Sound            string // voice clip name, served by the UI as /audio/<Sound>.wav
}

var texts = map[Reason]Text{
	ReasonOK:                  {"通行", "Pass", "体温正常，请通行", "Temperature normal, please pass", "pass"},
	ReasonFever:               {"禁止通行", "Stop", "体温异常，请到人工通道复测", "Temperature high, please see staff", "fever"},
	ReasonStatusRed:           {"禁止通行", "Stop", "健康码红码，请联系工作人员", "Red health status, please see staff", "deny"},
	ReasonStatusYellow:        {"禁止通行", "Stop", "健康码黄码，请联系工作人员", "Yellow health status, please see staff", "deny"},
	ReasonStatusUnknown:       {"人工核验", "See staff", "未查到健康状态，请联系工作人员", "No health status found, please see staff", "manual"},
	ReasonStatusStale:         {"人工核验", "See staff", "数据未更新，请联系工作人员", "Status data out of date, please see staff", "manual"},
	ReasonIDInvalid:           {"证件无效", "Invalid ID", "证件无效，请联系工作人员", "Invalid ID, please see staff", "invalid_id"},
	ReasonCardExpired:         {"证件过期", "ID expired", "证件已过期，请联系工作人员", "ID card expired, please see staff", "invalid_id"},
	ReasonCodeMalformed:       {"无法识别", "Unreadable", "无法识别此码，请出示身份证", "Code not recognised, please show your ID card", "invalid_code"},
	ReasonCodeUntrusted:       {"无法核验", "Not trusted", "发码机构不受信任，请联系工作人员", "Code issuer not trusted, please see staff", "invalid_code"},
	ReasonCodeForged:          {"禁止通行", "Stop", "健康码校验失败，请联系工作人员", "Health code is not genuine, please see staff", "invalid_code"},
	ReasonCodeExpired:         {"码已过期", "Code expired", "健康码已过期，请刷新后重试", "Health code expired, please refresh it", "invalid_code"},
	ReasonCodeNotYetValid:     {"码未生效", "Not yet valid", "健康码尚未生效，请联系工作人员", "Health code not yet valid, please see staff", "invalid_code"},
	ReasonCodeRevoked:         {"禁止通行", "Stop", "健康码已作废，请联系工作人员", "Health code revoked, please see staff", "invalid_code"},
	ReasonCodeClassNotAllowed: {"无法核验", "Not accepted", "此类健康码不适用，请出示身份证", "This kind of code is not accepted here, please show your ID card", "invalid_code"},
	ReasonCodeWrongPerson:     {"人证不符", "Not your code", "健康码与身份证不符，请联系工作人员", "The code belongs to someone else, please see staff", "deny"},
	ReasonCodeNeedsCard:       {"请刷身份证", "Show ID card", "纸质码需同时刷身份证", "Printed codes need your ID card, please place it on the reader", "show_card"},
	ReasonCodeNotOffline:      {"人工核验", "See staff", "此码无法离线核验，请联系工作人员", "This code cannot be checked offline, please see staff", "manual"},
	ReasonTimeUntrusted:       {"人工核验", "See staff", "设备时间未校准，请联系工作人员", "Device clock not verified, please see staff", "manual"},
	ReasonNoTemperature:       {"请重试", "Try again", "未测到体温，请正对测温区", "No temperature taken, please face the sensor", "retry"},
	ReasonRemeasure:           {"请重试", "Try again", "体温读数异常，请重新测温", "Unusual reading, please measure again", "retry"},
	ReasonLogUnavailable:      {"暂停服务", "Out of service", "设备故障，请走人工通道", "Kiosk fault, please use the staffed lane", "manual"},
	// No clip says these yet (scripts/gen-voice.sh): the generic manual one is closest.
	ReasonThermometerDown:  {"人工核验", "See staff", "测温设备故障，请到人工通道", "Thermometer out of order, please use the staff lane", "manual"},
	ReasonReaderDown:       {"人工核验", "See staff", "读卡器故障，请到人工通道", "Card reader out of order, please use the staff lane", "manual"},
	ReasonCameraDown:       {"人工核验", "See staff", "扫码设备故障，请到人工通道", "Code scanner out of order, please use the staff lane", "manual"},
	ReasonCheckInNeedsPass: {"请先通行", "Pass first", "请先刷身份证或出示健康码通行后再签到", "Please pass the check first, then show your appointment code", "idle"},
	ReasonStaffOverride:    {"通行", "Pass", "工作人员已核验，请通行", "Checked by staff, please pass", "pass"},
}

// passNoTemp is the PASS text of a hall that does not take temperatures: it says nothing of one.
// The voice clip "pass" says 体温正常, so the screen stays silent (no clip fits yet).
var passNoTemp = Text{"通行", "Pass", "核验通过，请通行", "Check complete, please pass", ""}

// Text is TextForOutcome under the policy: a check the hall turned off is not mentioned.
func (p Policy) Text(r Reason, o Outcome) Text {
	if r == ReasonOK && p.TemperatureOff() {
		return passNoTemp
	}
	return TextForOutcome(r, o)
}

// staffDeny is the screen for a staff member's DENY: the reason is the same as for their PASS.
var staffDeny = Text{"禁止通行", "Stop", "工作人员核验未通过，请听从工作人员安排", "Not cleared by staff, please follow their instructions", "deny"}

// TextForOutcome is TextFor, except for a staff decision, whose one reason covers both outcomes.
func TextForOutcome(r Reason, o Outcome) Text {
	if r == ReasonStaffOverride && o == Deny {
		return staffDeny
	}
	return TextFor(r)
}

// TextFor returns the screen texts for a reason; every reason has one (a test checks).
func TextFor(r Reason) Text {
	if t, ok := texts[r]; ok {
		return t
	}
	return Text{"人工核验", "See staff", "请联系工作人员", "Please see staff", "manual"}
}

// Reasons lists every reason code, for tests and documentation.
func Reasons() []Reason {
	out := make([]Reason, 0, len(texts))
	for r := range texts {
		out = append(out, r)
	}
	return out
}
