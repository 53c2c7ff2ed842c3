package dashboard

// texts are the pages' words in Chinese (the default) and English.
var texts = map[string][2]string{
	"title":            {"一码通行 · 运维看板", "onepass · operators' dashboard"},
	"fleet":            {"设备", "Fleet"},
	"halls":            {"大厅", "Halls"},
	"audit":            {"审计", "Audit"},
	"logout":           {"退出", "Log out"},
	"lang_other":       {"English", "中文"},
	"login":            {"登录", "Log in"},
	"user":             {"用户名", "User"},
	"password":         {"密码", "Password"},
	"refused":          {"登录失败：用户名或密码错误，或已锁定（连续错误 %d 次锁定 %d 分钟）", "Login refused: wrong user or password, or locked (%d wrong passwords in a row lock it for %d min)"},
	"slow_down":        {"登录失败次数过多，请 %d 秒后再试", "Too many failed logins from this address: try again in %d s"},
	"needs_attention":  {"需要处理", "Needs attention"},
	"all":              {"全部", "All"},
	"kiosks_summary":   {"共 %d 台设备，%d 台需要处理", "%d kiosks, %d need attention"},
	"kiosk":            {"设备", "Kiosk"},
	"hall":             {"大厅", "Hall"},
	"last_seen":        {"最后联系", "Last seen"},
	"version":          {"版本", "Version"},
	"parts":            {"部件", "Parts"},
	"outbox":           {"待上传", "Outbox"},
	"replica":          {"名单年龄", "Replica age"},
	"skew":             {"时钟偏差", "Clock skew"},
	"paper":            {"纸张", "Paper"},
	"why":              {"问题", "Why"},
	"never":            {"从未", "never"},
	"ago":              {"前", " ago"},
	"no_report":        {"尚无上报", "no report yet"},
	"revoked":          {"已吊销", "revoked"},
	"none_yet":         {"无", "none"},
	"p_silent":         {"失联", "silent"},
	"p_part_down":      {"部件故障", "part down"},
	"p_part_degraded":  {"部件降级", "part degraded"},
	"p_paper_out":      {"缺纸", "paper out"},
	"p_paper_low":      {"纸将用尽", "paper low"},
	"p_replica_old":    {"名单过旧", "replica old"},
	"p_skew":           {"时钟偏差过大", "clock skew"},
	"p_outbox_lag":     {"上传积压", "uploads behind"},
	"no_kiosks":        {"没有设备", "No kiosks"},
	"day":              {"日期", "Day"},
	"show":             {"查看", "Show"},
	"visits_per_hour":  {"每小时通行人次", "Visits per hour"},
	"hour":             {"时", "Hour"},
	"visits":           {"人次", "Visits"},
	"outcomes":         {"核验结果", "Outcomes"},
	"fever":            {"体温异常", "Fever"},
	"overrides":        {"人工改判", "Staff overrides"},
	"manual_entries":   {"手工录入", "Manual entries"},
	"tickets_issued":   {"取号", "Tickets issued"},
	"service":          {"业务", "Service"},
	"issued":           {"取号", "Issued"},
	"called":           {"叫号", "Called"},
	"avg_wait":         {"平均等候", "Average wait"},
	"p90_wait":         {"90% 等候", "p90 wait"},
	"no_hall":          {"还没有大厅", "No halls yet"},
	"time":             {"时间", "Time"},
	"kind":             {"类型", "Kind"},
	"who":              {"操作人", "Who"},
	"subject":          {"对象", "Subject"},
	"outcome":          {"结果", "Outcome"},
	"detail":           {"说明", "Detail"},
	"all_halls":        {"全部大厅", "All halls"},
	"no_entries":       {"当天没有记录", "Nothing on this day"},
	"more_entries":     {"仅显示最近 %d 条", "Only the latest %d shown"},
	"k_override":       {"人工改判", "staff override"},
	"k_manual":         {"手工录入", "manual entry"},
	"k_code_revoked":   {"吊销健康码", "code revoked"},
	"k_device_revoked": {"吊销设备", "device revoked"},
	"k_issuer_revoked": {"吊销签发方", "issuer revoked"},
	"k_policy":         {"政策变更", "policy change"},
	"PASS":             {"通行", "PASS"},
	"DENY":             {"禁止", "DENY"},
	"MANUAL":           {"人工", "MANUAL"},
	"RETRY":            {"重试", "RETRY"},
	"no_such_kiosk":    {"没有设备 %s", "No kiosk %s"},
	"latest_report":    {"最新上报", "Latest report"},
	"report_at":        {"上报时间", "Reported at"},
	"uptime":           {"运行时长", "Uptime"},
	"outbox_oldest":    {"最早待上传", "Oldest waiting"},
	"queues":           {"排队", "Queues"},
	"waiting":          {"等候人数", "Waiting"},
	"part":             {"部件", "Part"},
	"state":            {"状态", "State"},
	"reason":           {"原因", "Reason"},
	"since":            {"起始", "Since"},
	"history_24h":      {"最近 24 小时", "Last 24 hours"},
	"outbox_over_time": {"待上传数量变化", "Outbox depth over time"},
	"change":           {"变化", "Change"},
	"no_history":       {"最近 24 小时没有上报", "No reports in the last 24 hours"},
	"error":            {"看板暂时无法读取数据库，请稍后刷新", "The dashboard cannot read the database just now: reload in a moment"},
}

// lang is a page's language: 0 Chinese, 1 English.
type lang int

func (l lang) code() string {
	if l == 1 {
		return "en"
	}
	return "zh"
}

// t is the text of key in l (the key itself when missing, so a gap shows, not a blank).
func (l lang) t(key string) string {
	if s, ok := texts[key]; ok {
		return s[l]
	}
	return key
}
