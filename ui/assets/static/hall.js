// Hall calling screen: renders the queue board from GET /hall/events and chimes on every new
// call (and recall). The first board after load or reconnect is shown without a chime.
'use strict';

const $ = (id) => document.getElementById(id);
let board = null;
let seenSeq = 0;    // highest call seq shown
let fresh = true;   // the next board is the first of a (re)connection: show it, do not chime

function text(el, s) { if (el.textContent !== s) el.textContent = s; }

function render() {
  const b = board;
  if (!b) return;
  text($('hall'), b.hall ? b.hall + ' 叫号' : '叫号');
  const c = (b.calls || [])[0];
  const call = $('call');
  call.dataset.number = c ? c.number : '';
  call.dataset.counter = c ? c.counter : '';
  call.dataset.seq = String(c ? c.seq : 0);
  text($('call-number'), c ? c.number : '—');
  text($('call-counter'), c ? c.counter : '—');
  text($('call-text'), c ? `请 ${c.number} 号到 ${c.counter} 号窗口` + (c.recall ? '（重呼）' : '') : '请留意叫号');

  const calls = $('calls');
  calls.replaceChildren(...(b.calls || []).slice(1).map((x) => {
    const li = document.createElement('li');
    const n = document.createElement('span'); n.textContent = x.number;
    const k = document.createElement('span'); k.textContent = x.counter + ' 号窗口';
    li.append(n, k);
    return li;
  }));
  const body = $('waiting').tBodies[0];
  body.replaceChildren(...(b.services || []).map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.service = s.code;
    const name = document.createElement('td'); name.textContent = `${s.code} ${s.name}`;
    const n = document.createElement('td'); n.className = 'n'; n.textContent = `${s.waiting} 人`;
    tr.append(name, n);
    return tr;
  }));
}

function chime() {
  const a = $('chime');
  a.dataset.plays = String(Number(a.dataset.plays || 0) + 1);
  a.currentTime = 0;
  a.play().catch(() => {}); // no audio device: the screen still shows the call
  document.body.dataset.flash = '1';
  setTimeout(() => { document.body.dataset.flash = '0'; }, 3000);
}

function onBoard(b) {
  const top = (b.calls || [])[0];
  const seq = top ? top.seq : 0;
  if (board && b.day !== board.day) seenSeq = 0; // a new business day numbers calls afresh
  const ring = !fresh && seq > seenSeq;
  if (fresh || seq > seenSeq) seenSeq = seq;
  fresh = false;
  board = b;
  render();
  if (ring) chime();
}

function setConn(ok) {
  document.body.dataset.conn = ok ? 'ok' : 'lost';
  $('conn').hidden = ok;
}

function clock() {
  text($('clock'), new Intl.DateTimeFormat('zh-CN', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date()));
}

function connect() {
  const es = new EventSource('/hall/events');
  es.addEventListener('board', (e) => { setConn(true); onBoard(JSON.parse(e.data)); });
  es.onerror = () => {
    setConn(false);
    fresh = true; // the daemon may have restarted: its call numbering starts over
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
}

setInterval(clock, 1000);
clock();
connect();
