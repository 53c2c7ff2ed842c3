// Hall calling screen: renders the queue board from GET /hall/events and announces every new
// call (and recall): a chime, then the call in Chinese — 请 A002 号到 3 号窗口办理 — and, where the
// hall sets [queue] announce_en, in English, joined from clips (voice.js). The first board after
// load or reconnect is shown without an announcement.
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

// The voice. Every announcement is played to its end and the next waits its turn, as hall
// calling systems do: a call made while another is being said is never cut off.
const MAX_PENDING = 20;     // announcements waiting; older ones beyond this are stale, dropped
const CLIP_MAX_MS = 8000;   // a clip that never ends (stalled audio device) must not mute the hall
const voice = { pending: [], clips: [], busy: false };

function announce(c, en) {
  voice.pending.push(['chime', ...callClips(c, 'zh'), ...(en ? callClips(c, 'en') : [])]);
  const a = $('voice');
  a.dataset.queued = String(Number(a.dataset.queued || 0) + 1); // plays counts those started
  if (voice.pending.length > MAX_PENDING) voice.pending.shift();
  document.body.dataset.flash = '1';
  setTimeout(() => { document.body.dataset.flash = '0'; }, 3000);
  speak();
}

function speak() {
  if (voice.busy) return;
  if (!voice.clips.length) {
    if (!voice.pending.length) return;
    voice.clips = voice.pending.shift();
    const a = $('voice');
    a.dataset.plays = String(Number(a.dataset.plays || 0) + 1);
  }
  const name = voice.clips.shift();
  const a = $('voice');
  voice.busy = true;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    a.onended = a.onerror = null;
    voice.busy = false;
    speak();
  };
  const timer = setTimeout(finish, CLIP_MAX_MS);
  a.onended = finish;
  a.onerror = finish; // a missing clip skips that word, not the rest of the call
  a.dataset.clip = name;
  a.src = '/audio/' + name + '.wav';
  a.play().catch(finish); // no audio device or autoplay refused: the screen still shows the call
}

function onBoard(b) {
  const calls = b.calls || [];
  if (board && b.day !== board.day) seenSeq = 0; // a new business day numbers calls afresh
  // After a (re)connect the daemon may have restarted, numbering calls anew: take its latest as seen.
  if (fresh) seenSeq = calls.length ? calls[0].seq : 0;
  // Every call not yet announced, oldest first: two calls may arrive in one board.
  const ring = calls.filter((c) => c.seq > seenSeq).sort((x, y) => x.seq - y.seq);
  if (ring.length) seenSeq = ring[ring.length - 1].seq;
  fresh = false;
  board = b;
  render();
  for (const c of ring) announce(c, !!b.announce_en);
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
