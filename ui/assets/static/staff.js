// Staff console: log in with staff ID and PIN, call tickets to my counter, issue tickets (also
// after a manual ID check), decide MANUAL visits (人工核验通过 / 不通过 with a reason from a short
// list), watch the queues, the devices and the upload backlog. Every change is a POST carrying
// the session's CSRF token; the state is polled.
'use strict';

const $ = (id) => document.getElementById(id);
let me = null;      // {staff, name, counter, csrf}
let state = null;   // last GET /staff/api/state
let timer = null;

const PARTS = { reader: '读卡器', thermometer: '测温仪', camera: '扫码摄像头', printer: '打印机', signal: '闸机', store: '数据存储', sync: '数据同步' };
const STATES = { ok: '正常', degraded: '异常', down: '故障', not_configured: '未配置' };
const OUTCOMES = { PASS: '通行', DENY: '禁止', MANUAL: '人工', RETRY: '重试' };
const METHODS = { card: '身份证', code: '健康码', 'card+code': '身份证+健康码', temp: '测温', manual: '手工录入', staff: '工作人员' };

function show(view) {
  document.body.dataset.view = view;
  $('login').hidden = view !== 'login';
  $('console').hidden = view !== 'console';
}

function say(el, text, kind) {
  el.textContent = text || '';
  el.dataset.kind = kind || '';
}

async function api(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (me && method !== 'GET') headers['X-CSRF-Token'] = me.csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  let data = null;
  try { data = await res.json(); } catch (_) { /* 204 */ }
  return { ok: res.ok, status: res.status, data, retryAfter: parseInt(res.headers.get('Retry-After'), 10) || 0 };
}

function fillSelect(sel, items, keep) {
  const old = sel.value;
  sel.replaceChildren(...items.map(([v, t]) => { const o = document.createElement('option'); o.value = v; o.textContent = t; return o; }));
  if (keep && [...sel.options].some((o) => o.value === old)) sel.value = old;
}

async function loadCounters() {
  const r = await fetch('/hall/state');
  if (!r.ok) return;
  const b = await r.json();
  fillSelect($('login-counter'), [['', '（默认）'], ...b.counters.map((c) => [c.id, c.id + ' 号窗口'])], true);
}

function minutes(since) {
  return Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 60000));
}

function render() {
  if (!state) return;
  const b = state.board;
  me = { ...me, ...state.me };
  $('me-name').textContent = me.name || me.staff;
  $('me-staff').textContent = me.staff;
  $('me-counter').textContent = me.counter ? me.counter + ' 号' : '（未选）';
  const mine = b.counters.find((c) => c.id === me.counter);
  $('current').textContent = mine && mine.current ? `${mine.current.number}（${mine.current.service_name}）` : '—';
  $('current').dataset.number = mine && mine.current ? mine.current.number : '';

  fillSelect($('transfer-to'), b.services.map((s) => [s.code, `${s.code} ${s.name}`]), true);
  fillSelect($('issue-service'), b.services.map((s) => [s.code, `${s.code} ${s.name}`]), true);
  fillSelect($('issue-priority'), [['', '普通'], ...b.priorities.map((p) => [p.class, p.zh])], true);

  $('queues').tBodies[0].replaceChildren(...b.services.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.service = s.code;
    const first = s.next[0];
    for (const t of [`${s.code} ${s.name}`, String(s.waiting), first ? minutes(first.issued_at) + ' 分钟' : '—',
      s.next.slice(0, 5).map((w) => w.number + (w.priority ? '★' : '')).join(' ') || '—']) {
      const td = document.createElement('td'); td.textContent = t; tr.append(td);
    }
    return tr;
  }));

  const h = state.health || {};
  $('health').replaceChildren(...Object.keys(h).sort().map((p) => {
    const li = document.createElement('li');
    li.dataset.part = p; li.dataset.state = h[p].state;
    li.textContent = `${PARTS[p] || p}：${STATES[h[p].state] || h[p].state}` + (h[p].reason ? `（${h[p].reason}）` : '');
    return li;
  }));
  // A part a pass depends on is down: the lane sends citizens to staff (reasons thermometer_down,
  // reader_down, camera_down once [measure] fault_grace has passed), so say it at the top.
  // A part the hall's policy does not use (temperature or status "off") stops nobody: say so
  // rather than send staff to a queue that will not come.
  const unused = state.unused || [];
  const broken = ['thermometer', 'reader', 'camera'].filter((p) => h[p] && h[p].state === 'down');
  const down = broken.filter((p) => !unused.includes(p));
  const idle = broken.filter((p) => unused.includes(p));
  const named = (ps) => ps.map((p) => (PARTS[p] || p) + (h[p].reason ? `（${h[p].reason}）` : '')).join('、');
  $('device-alert').hidden = broken.length === 0;
  $('device-alert').dataset.parts = down.join(' ');
  $('device-alert').dataset.unused = idle.join(' ');
  $('device-alert').textContent = (down.length ? '设备故障：' + named(down) + '。市民将被引导至人工通道，请人工核验' : '') +
    (idle.length ? (down.length ? '；' : '') + '设备故障：' + named(idle) + '。本厅未启用此项检查，通行不受影响，请报修' : '');
  const pr = b.printer || {};
  const printerDown = h.printer && (h.printer.state === 'down' || h.printer.state === 'degraded');
  const bad = (pr.configured && !pr.ok) || printerDown;
  $('printer-alert').hidden = !bad;
  $('printer-alert').textContent = bad ? '打印机故障：' + (pr.error || (h.printer && h.printer.reason) || '') +
    ((pr.unprinted || []).length ? '；未打印的号：' + pr.unprinted.join('、') + '（请告知市民号码）' : '') : '';

  $('sync-age').textContent = state.last_sync ? minutes(state.last_sync) + ' 分钟前'
    : (typeof state.replica_age_s === 'number' ? Math.round(state.replica_age_s / 60) + ' 分钟前（名单）' : '从未');
  $('outbox').textContent = typeof state.outbox_depth === 'number' ? String(state.outbox_depth) : '—';

  $('recent').tBodies[0].replaceChildren(...state.recent.map((v) => {
    const tr = document.createElement('tr');
    for (const t of [clock(v.at), v.masked_name || '—', METHODS[v.method] || v.method,
      (OUTCOMES[v.outcome] || v.outcome) + (v.text_zh ? ' · ' + v.text_zh : '') + (v.staff_id ? `（工号 ${v.staff_id}）` : '')]) {
      const td = document.createElement('td'); td.textContent = t; tr.append(td);
    }
    return tr;
  }));
  renderPending();
}

function clock(at) {
  return new Date(at).toLocaleTimeString('zh-CN', { hourCycle: 'h23' });
}

// renderPending lists the MANUAL visits waiting for a decision. A row keeps its chosen reason
// across polls, so a staff member mid-choice is not reset every two seconds.
function renderPending() {
  const pending = state.pending || [];
  const notes = state.notes || [];
  $('pending-card').hidden = notes.length === 0;
  const body = $('pending').tBodies[0];
  const old = new Map([...body.rows].map((tr) => [tr.dataset.visit, tr]));
  body.replaceChildren(...pending.map((v) => old.get(v.id) || pendingRow(v, notes)));
}

function pendingRow(v, notes) {
  const tr = document.createElement('tr');
  tr.dataset.visit = v.id;
  for (const t of [clock(v.at), v.masked_name || '—', METHODS[v.method] || v.method, v.text_zh || v.reason]) {
    const td = document.createElement('td'); td.textContent = t; tr.append(td);
  }
  const td = document.createElement('td');
  td.className = 'decide';
  const sel = document.createElement('select');
  sel.className = 'note';
  sel.setAttribute('aria-label', '原因');
  sel.append(new Option('选择原因…', ''), ...notes.map((n) => {
    const o = new Option(n.zh, n.code);
    o.dataset.outcomes = n.outcomes.join(' ');
    o.title = n.en;
    return o;
  }));
  const pass = document.createElement('button');
  pass.type = 'button'; pass.className = 'primary pass'; pass.textContent = '人工核验通过';
  const deny = document.createElement('button');
  deny.type = 'button'; deny.className = 'deny'; deny.textContent = '不通过';
  // A reason is required, and only the reasons that fit a decision allow it.
  const fit = () => {
    const o = sel.selectedOptions[0];
    const outs = o && o.dataset.outcomes ? o.dataset.outcomes.split(' ') : [];
    pass.disabled = !outs.includes('PASS');
    deny.disabled = !outs.includes('DENY');
  };
  sel.addEventListener('change', fit);
  fit();
  const decide = async (outcome) => {
    pass.disabled = deny.disabled = true;
    const d = await act('/staff/api/override', { visit_id: v.id, outcome, note: sel.value }, (o) => overrideText(o));
    if (!d) fit();
  };
  pass.addEventListener('click', () => decide('PASS'));
  deny.addEventListener('click', () => decide('DENY'));
  td.append(sel, pass, deny);
  tr.append(td);
  return tr;
}

function overrideText(o) {
  const who = o.masked_name || '';
  if (o.outcome === 'PASS') {
    if (o.at_desk) return `${who} 人工核验通过：可为其取号`;
    return `${who} 人工核验通过` + (o.shown ? '：闸机屏幕已显示通行，可取号' : '：闸机正忙，请引导其通行');
  }
  return `${who} 人工核验不通过` + (o.shown ? '：闸机屏幕已显示' : '');
}

async function refresh() {
  const r = await api('GET', '/staff/api/state');
  if (r.status === 401) { logout(false); return; }
  if (r.ok) { state = r.data; render(); }
}

function startConsole() {
  show('console');
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, 2000);
}

function logout(tell) {
  me = null; state = null;
  clearInterval(timer);
  show('login');
  loadCounters();
  if (tell) say($('login-msg'), '已退出');
}

async function act(path, body, ok) {
  const r = await api('POST', path, body || {});
  if (r.status === 401) { logout(false); say($('login-msg'), '登录已过期，请重新登录', 'error'); return null; }
  if (!r.ok) {
    const c = r.data && r.data.check;
    // The staff member is the one a MANUAL result sends people to: point at the decision list.
    const text = c && c.outcome === 'MANUAL' && c.reason !== 'log_unavailable' ? `需人工核验（${c.text_zh}）：请在“待人工核验”中决定`
      : (r.data && r.data.zh) || ('操作失败 ' + r.status);
    say($('msg'), text, 'error'); refresh(); return null;
  }
  say($('msg'), ok(r.data), 'ok');
  refresh();
  return r.data;
}

// After failed logins from this desk the kiosk answers 429 until a growing delay (1 s, 2 s, 4 s …
// up to 30 s) has passed: count it down with the button off, so nobody types a PIN in vain.
let loginWait = null;
function waitToLogin(secs) {
  clearInterval(loginWait);
  let left = Math.max(1, secs);
  const tick = () => {
    if (left <= 0) {
      clearInterval(loginWait); loginWait = null;
      $('login-go').disabled = false;
      say($('login-msg'), '可以重新登录', '');
      return;
    }
    $('login-go').disabled = true;
    say($('login-msg'), `登录失败次数过多，请 ${left} 秒后再试`, 'wait');
    left--;
  };
  tick();
  loginWait = setInterval(tick, 1000);
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-go').disabled = true;
  say($('login-msg'), '');
  const r = await api('POST', '/staff/api/login', { staff: $('login-staff').value.trim(), pin: $('login-pin').value, counter: $('login-counter').value });
  $('login-go').disabled = false;
  $('login-pin').value = '';
  if (r.status === 429) { waitToLogin(r.retryAfter); return; }
  if (!r.ok) {
    // One text for every refusal (wrong PIN, unknown ID, locked): it does not say which.
    say($('login-msg'), (r.data && r.data.zh) || ('登录失败 ' + r.status), 'error');
    return;
  }
  me = r.data;
  say($('login-msg'), '');
  startConsole();
});
$('logout').addEventListener('click', async () => { await api('POST', '/staff/api/logout', {}); logout(true); });
$('call-next').addEventListener('click', () => act('/staff/api/call', {}, (t) => `请 ${t.number} 号到 ${t.counter} 号窗口`));
$('recall').addEventListener('click', () => act('/staff/api/recall', {}, (t) => `已重呼 ${t.number}`));
$('served').addEventListener('click', () => act('/staff/api/served', {}, (t) => `${t.number} 已办结`));
$('no-show').addEventListener('click', () => act('/staff/api/no-show', {}, (t) => `${t.number} 已过号`));
$('transfer').addEventListener('click', () => act('/staff/api/transfer', { service: $('transfer-to').value }, (t) => `${t.number} 已转至 ${t.service_name}`));
// notPrinted tells the staff member to say the number when the printer did not print it.
function notPrinted(is) {
  return is.print_problem_zh ? `；未打印：${is.print_problem_zh}，请告知市民号码` : '';
}
$('issue-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { service: $('issue-service').value, priority: $('issue-priority').value };
  const id = $('issue-id').value.trim();
  if (id) {
    body.id_number = id; body.name = $('issue-name').value.trim();
    body.temp_c = parseFloat($('issue-temp').value) || 0;
  }
  $('issued').textContent = '';
  const d = await act('/staff/api/issue', body, (is) => `已取号 ${is.ticket.number}，前面 ${is.ahead} 人` + notPrinted(is));
  // Whatever the answer, the typed ID number and name leave the screen (the next person in line
  // must not read them).
  $('issue-id').value = ''; $('issue-name').value = ''; $('issue-temp').value = '';
  if (d) $('issued').textContent = d.ticket.number;
});
$('checkin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const d = await act('/staff/api/checkin', { code: $('checkin-code').value.trim() }, (is) => `预约签到 ${is.ticket.number}` + notPrinted(is));
  if (d) { $('issued').textContent = d.ticket.number; $('checkin-code').value = ''; }
});

(async () => {
  const r = await api('GET', '/staff/api/state');
  if (r.ok) { me = r.data.me; state = r.data; startConsole(); render(); return; }
  show('login');
  loadCounters();
})();
