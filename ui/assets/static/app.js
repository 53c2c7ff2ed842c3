// Kiosk screen: renders the lane's View from GET /events and plays its voice clip. It keeps no
// history: every (re)connect starts with the full current View.
'use strict';

const T = {
  zh: {
    idle: ['请刷身份证或出示健康码', '身份证放读卡区，健康码对准扫码口'],
    measuring: ['请正对测温区', '正在测量体温，请稍候'],
    toggle: 'English', reconnect: '连接中…', name: '姓名', idno: '证件号', temp: '体温', sep: '；',
    down: '故障', degraded: '异常', locale: 'zh-CN', htmlLang: 'zh-CN',
    parts: { reader: '读卡器', thermometer: '测温仪', camera: '扫码摄像头', printer: '打印机', signal: '闸机', store: '数据存储' },
  },
  en: {
    idle: ['Please place your ID card or show your health code', 'Put your ID card on the reader, or hold your health code up to the scanner'],
    measuring: ['Please face the temperature sensor', 'Measuring your temperature, please wait'],
    toggle: '中文', reconnect: 'Reconnecting…', name: 'Name', idno: 'ID', temp: 'Temperature', sep: '; ',
    down: 'down', degraded: 'degraded', locale: 'en-GB', htmlLang: 'en',
    parts: { reader: 'Card reader', thermometer: 'Thermometer', camera: 'Code scanner', printer: 'Printer', signal: 'Gate', store: 'Storage' },
  },
};
const ICON = { PASS: 'pass', DENY: 'deny', MANUAL: 'manual', RETRY: 'retry', idle: 'card', measuring: 'temp' };

const $ = (id) => document.getElementById(id);
let view = null;   // the last View received
let seen = null;   // its version
let lang = 'zh';

// screen maps a View to what is shown: an outcome, the measuring prompt, or the idle prompt.
function screen(v) {
  if (!v) return 'idle';
  if ((v.state === 'decided' || v.state === 'showing') && ICON[v.outcome]) return v.outcome;
  if (v.state === 'identified' || v.state === 'measuring') return 'measuring';
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
  const result = sc !== 'idle' && sc !== 'measuring';
  document.documentElement.lang = t.htmlLang;
  document.body.dataset.screen = sc;
  $('state').dataset.state = v.state || 'idle';
  $('state').dataset.version = String(v.version || 0);
  $('outcome').dataset.outcome = result ? sc : '';
  $('icon').dataset.icon = ICON[sc];
  $('icon').firstElementChild.setAttribute('href', '#i-' + ICON[sc]);

  let title, text;
  if (!result) {
    [title, text] = t[sc];
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
  clock();
}

function play(name, version) {
  const a = $('voice');
  a.dataset.sound = name;
  a.dataset.version = String(version);
  a.dataset.plays = String(Number(a.dataset.plays || 0) + 1);
  a.src = '/audio/' + encodeURIComponent(name) + '.wav';
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
});
setInterval(clock, 1000);
render();
connect();
