// Kiosk screen: renders the lane's View from GET /events and plays its voice clip (English ones
// in English). It keeps no history: every (re)connect starts with the full current View.
'use strict';

const T = {
  zh: {
    idle: ['请刷身份证或出示健康码', '身份证放读卡区，健康码对准扫码口'],
    measuring: ['请正对测温区', '正在测量体温，请稍候'],
    cardWait: ['请刷身份证', '纸质健康码需同时刷身份证'],
    idleCard: ['请刷身份证', '身份证放读卡区'],
    idleCode: ['请出示健康码', '健康码对准扫码口'],
    toggle: 'English', reconnect: '连接中…', name: '姓名', idno: '证件号', temp: '体温', sep: '；',
    down: '故障', degraded: '异常', locale: 'zh-CN', htmlLang: 'zh-CN',
    parts: { reader: '读卡器', thermometer: '测温仪', camera: '扫码摄像头', printer: '打印机', signal: '闸机', store: '数据存储', sync: '数据同步' },
    pick: '请选择办理业务', yourNo: '您的号码', ahead: (n) => `前面还有 ${n} 人等候`, done: '完成',
    print: { printing: '正在打印号票…', printed: '请取走号票，留意叫号', failed: '号票未能打印，请记住您的号码', off: '请记住您的号码，留意叫号' },
  },
  en: {
    idle: ['Please place your ID card or show your health code', 'Put your ID card on the reader, or hold your health code up to the scanner'],
    measuring: ['Please face the temperature sensor', 'Measuring your temperature, please wait'],
    cardWait: ['Please place your ID card', 'A printed health code needs your ID card too'],
    idleCard: ['Please place your ID card', 'Put your ID card on the reader'],
    idleCode: ['Please show your health code', 'Hold your health code up to the scanner'],
    toggle: '中文', reconnect: 'Reconnecting…', name: 'Name', idno: 'ID', temp: 'Temperature', sep: '; ',
    down: 'down', degraded: 'degraded', locale: 'en-GB', htmlLang: 'en',
    parts: { reader: 'Card reader', thermometer: 'Thermometer', camera: 'Code scanner', printer: 'Printer', signal: 'Gate', store: 'Storage', sync: 'Sync' },
    pick: 'Choose your service', yourNo: 'Your number', ahead: (n) => `${n} ahead of you`, done: 'Done',
    print: { printing: 'Printing your ticket…', printed: 'Please take your ticket', failed: 'Ticket not printed: please remember your number', off: 'Please remember your number' },
  },
};
const ICON = { PASS: 'pass', DENY: 'deny', MANUAL: 'manual', RETRY: 'retry', idle: 'card', measuring: 'temp',
  cardWait: 'card', notice: 'card', closed: 'manual' };
// Screens whose texts are the page's own; every other screen shows the View's texts.
const PROMPTS = new Set(['idle', 'measuring', 'cardWait']);
// The idle prompt when only one way in works (View.prompt).
const IDLE = { card: 'idleCard', code: 'idleCode' };

const $ = (id) => document.getElementById(id);
let view = null;   // the last View received
let seen = null;   // its version
let lang = 'zh';

// screen maps a View to what is shown: an outcome, a notice (a reason without an outcome), the
// card or measuring prompt, the lane closed for a broken part (idle with a reason), or the idle prompt.
function screen(v) {
  if (!v) return 'idle';
  const done = v.state === 'decided' || v.state === 'showing';
  if (done && ICON[v.outcome]) return v.outcome;
  if (done && v.reason) return 'notice';
  if (v.state === 'card_wait') return 'cardWait';
  if (v.state === 'identified' || v.state === 'measuring') return 'measuring';
  if (v.state === 'idle' && v.reason) return 'closed';
  return 'idle';
}

// newVisitor tells whether v starts another person's pass, which resets the language to zh.
function newVisitor(prev, v) {
  if (!prev) return false;
  if (v.state === 'idle') return prev.state !== 'idle';
  if (v.pass_id && prev.pass_id && v.pass_id !== prev.pass_id) return true;
  const done = (s) => s === 'decided' || s === 'showing';
  return done(prev.state) && !done(v.state);
}

function show(el, on) { el.hidden = !on; }

function render() {
  const t = T[lang];
  const v = view || { state: 'idle' };
  const sc = screen(v);
  const result = !PROMPTS.has(sc);
  document.documentElement.lang = t.htmlLang;
  document.body.dataset.screen = sc;
  $('state').dataset.state = v.state || 'idle';
  $('state').dataset.version = String(v.version || 0);
  $('outcome').dataset.outcome = result ? sc : '';
  $('icon').dataset.icon = ICON[sc];
  $('icon').firstElementChild.setAttribute('href', '#i-' + ICON[sc]);

  let title, text;
  if (!result) {
    [title, text] = t[sc === 'idle' ? IDLE[v.prompt] || 'idle' : sc];
  } else if (lang === 'en') {
    title = v.title_en || v.title_zh; text = v.text_en || v.text_zh;
  } else {
    title = v.title_zh; text = v.text_zh;
  }
  $('title').textContent = title || '';
  $('text').textContent = text || '';
  show($('text'), !!text);

  const showWho = sc !== 'idle';
  $('name').textContent = v.masked_name || '';
  show($('name-row'), showWho && !!v.masked_name);
  $('idno').textContent = v.masked_id || '';
  show($('idno-row'), showWho && !!v.masked_id);
  const hasTemp = typeof v.temp_c === 'number';
  $('temp').textContent = hasTemp ? v.temp_c.toFixed(1) + ' °C' : '';
  show($('temp-row'), showWho && hasTemp);
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t[el.dataset.t];

  const bad = Object.entries(v.health || {})
    .filter(([, h]) => h.state === 'down' || h.state === 'degraded')
    .sort(([a], [b]) => a.localeCompare(b));
  const sep = lang === 'en' ? ' ' : '';
  $('health').textContent = bad.map(([p, h]) => (t.parts[p] || p) + sep + t[h.state]).join(t.sep);
  $('health').dataset.parts = bad.map(([p]) => p).join(' ');
  show($('health'), bad.length > 0);

  $('lang').textContent = t.toggle;
  $('lang').dataset.lang = lang;
  $('conn').textContent = t.reconnect;
  renderTicket(t);
  clock();
}

// Queue tickets. After a PASS the citizen picks a service and sees the number large, for a while
// after the lane has gone back to idle; a print failure leaves the number on screen longer.
const PICK_MS = 45000;
const SHOW_MS = 60000;
const tickets = { enabled: false, services: [], step: '', passId: '', until: 0, issued: null, print: '', msg: '' };

function renderTicket(t) {
  const on = tickets.enabled && tickets.step !== '' && Date.now() < tickets.until;
  if (!on) tickets.step = '';
  document.body.dataset.ticket = on ? tickets.step : '';
  show($('ticket'), on);
  $('ticket').dataset.step = on ? tickets.step : '';
  if (!on) return;
  $('ticket-title').textContent = tickets.step === 'pick' ? t.pick : '';
  show($('services'), tickets.step === 'pick');
  show($('ticket-shown'), tickets.step === 'show');
  if (tickets.step === 'pick' && $('services').childElementCount !== tickets.services.length * 1) buildServices();
  for (const b of $('services').children) {
    const s = tickets.services.find((x) => x.code === b.dataset.service);
    b.firstElementChild.textContent = s ? (lang === 'en' && s.name_en ? s.name_en : s.name) : '';
  }
  const is = tickets.issued;
  if (is) {
    $('ticket-label').textContent = t.yourNo;
    $('ticket-no').textContent = is.ticket.number;
    const svc = tickets.services.find((x) => x.code === is.ticket.service);
    const name = svc ? (lang === 'en' && svc.name_en ? svc.name_en : svc.name) : is.ticket.service_name;
    $('ticket-info').textContent = name + ' · ' + t.ahead(is.ahead);
    $('ticket-print').dataset.print = tickets.print;
    $('ticket-print').textContent = t.print[tickets.print] || '';
  }
  $('ticket-msg').textContent = tickets.msg;
  $('ticket-done').textContent = t.done;
}

function buildServices() {
  $('services').replaceChildren(...tickets.services.map((s) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'svc';
    b.dataset.service = s.code;
    const name = document.createElement('span');
    const code = document.createElement('span');
    code.className = 'code';
    code.textContent = s.code;
    b.append(name, code);
    b.addEventListener('click', () => takeTicket(s.code));
    return b;
  }));
}

async function takeTicket(code) {
  const passId = tickets.passId;
  tickets.msg = '';
  let res, body;
  try {
    res = await fetch('/api/tickets/kiosk', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pass_id: passId, service: code }) });
    body = await res.json();
  } catch (_) {
    res = { ok: false };
  }
  if (tickets.passId !== passId) return; // the next person came meanwhile
  if (!res.ok) {
    tickets.msg = body ? (lang === 'en' ? body.en : body.zh) : T[lang].reconnect;
    render();
    return;
  }
  tickets.step = 'show';
  tickets.issued = body;
  tickets.print = body.existing ? 'printed' : (body.printing ? 'printing' : 'off');
  tickets.until = Date.now() + SHOW_MS;
  render();
  if (lastBoard) onBoard(lastBoard); // the print may have finished before the answer came
}

// onTicketView starts the picker on a new PASS and ends the ticket screens when the next person
// starts a pass.
function onTicketView(v) {
  if (!tickets.enabled) return;
  const decidedNow = v.state === 'decided' || v.state === 'showing';
  if (decidedNow && v.outcome === 'PASS' && v.pass_id && v.pass_id !== tickets.passId) {
    Object.assign(tickets, { step: 'pick', passId: v.pass_id, until: Date.now() + PICK_MS, issued: null, print: '', msg: '' });
  } else if (v.state === 'identified' || v.state === 'card_wait' || v.state === 'measuring' || (decidedNow && v.pass_id !== tickets.passId)) {
    tickets.step = '';
  }
}

let lastBoard = null;
function onBoard(b) {
  lastBoard = b;
  const k = b.kiosk;
  if (k && !tickets.issued && tickets.step === 'pick' && k.pass_id && k.pass_id === tickets.passId) {
    // An appointment code shown to the camera after this PASS became a ticket.
    Object.assign(tickets, { step: 'show', until: Date.now() + SHOW_MS, msg: '',
      issued: { ticket: { number: k.number, service: k.service, service_name: k.service_name }, ahead: k.ahead } });
    tickets.print = k.print;
    render();
  }
  const is = tickets.issued;
  if (k && is && k.number === is.ticket.number && k.print !== tickets.print) {
    tickets.print = k.print;
    if (k.print === 'failed') tickets.until = Date.now() + SHOW_MS; // keep the number up
    render();
  }
}

async function startTickets() {
  try {
    const res = await fetch('/hall/state');
    if (!res.ok) return; // no queue on this kiosk
    const b = await res.json();
    tickets.services = b.services || [];
    tickets.enabled = tickets.services.length > 0;
  } catch (_) {
    return;
  }
  const es = new EventSource('/hall/events');
  es.addEventListener('board', (e) => onBoard(JSON.parse(e.data)));
  $('ticket-done').addEventListener('click', () => { tickets.step = ''; render(); });
  setInterval(() => { if (tickets.step && Date.now() >= tickets.until) render(); }, 1000);
  if (view) { onTicketView(view); render(); }
}

// play says clip name in the screen's language: the English clips are <name>_en
// (scripts/gen-voice.sh makes both; ui/audio_test.go checks both exist).
function play(name, version) {
  const a = $('voice');
  const clip = lang === 'en' ? name + '_en' : name;
  a.dataset.sound = clip;
  a.dataset.version = String(version);
  a.dataset.plays = String(Number(a.dataset.plays || 0) + 1);
  a.src = '/audio/' + encodeURIComponent(clip) + '.wav';
  a.play().catch(() => {}); // no audio device, or autoplay blocked: the screen still says it all
}

// said identifies what the last view would say; consecutive views of one decision (decided, then
// showing) say it once.
const said = (v) => v && [v.pass_id, v.outcome, v.reason, v.sound].join('|');

function onView(v) {
  if (newVisitor(view, v)) lang = 'zh';
  // The first view after page load is not announced: it may be minutes old. A reconnect resends
  // the view already seen, with the same version.
  const speak = seen !== null && v.version > seen && v.sound && said(v) !== said(view);
  view = v;
  seen = v.version;
  onTicketView(v);
  render();
  if (speak) play(v.sound, v.version);
}

function setConn(ok) {
  document.body.dataset.conn = ok ? 'ok' : 'lost';
  show($('conn'), !ok);
}

let clockText = '';
function clock() {
  const s = new Intl.DateTimeFormat(T[lang].locale, {
    month: 'long', day: 'numeric', weekday: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(new Date());
  if (s !== clockText) $('clock').textContent = clockText = s;
}

function connect() {
  const es = new EventSource('/events');
  es.addEventListener('state', (e) => {
    setConn(true); // the first event after a (re)connect is the full state
    onView(JSON.parse(e.data));
  });
  es.onerror = () => {
    setConn(false);
    // EventSource retries by itself unless the server answered with an error; then start anew.
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
}

$('lang').addEventListener('click', () => {
  lang = lang === 'zh' ? 'en' : 'zh';
  render();
  // Whoever switched language did not understand what was said: say the outcome again in theirs.
  const sc = screen(view);
  if (view && view.sound && sc !== 'idle' && sc !== 'measuring') play(view.sound, view.version);
});
setInterval(clock, 1000);
render();
connect();
startTickets();
