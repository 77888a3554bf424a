// wallboard.js: the supervisors' live wallboard (/wallboard). Plain ES
// module, no build step, the same sign-in as the softphone and the admin
// console (auth.js). It opens /ws/supervisor, applies the snapshot and the
// numbered deltas (docs/protocol.md §10), reconnects for a new snapshot
// on any gap or cut, and renders agents, queues and live calls once a
// second. Server text only reaches the page through textContent.

import { AuthSession, safeStorage } from './auth.js';
import { clock, secondsBetween, reasonLabel } from './format.js';

const $ = (sel) => document.querySelector(sel);
const auth = new AuthSession(safeStorage(() => sessionStorage));

/** The live picture: agents by extension, queues by name, calls by id. */
const view = { seq: 0, agents: new Map(), queues: new Map(), calls: new Map() };
let ws = null;
let retry = 0;
let who = null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}

/**
 * Renders a list into container keeping the nodes whose content did not
 * change: the board re-renders every second for its timers, and replacing
 * every node would detach the button a supervisor is about to click.
 * items are [key, signature, make] triples.
 */
const kept = new WeakMap();
function renderList(container, items) {
  const old = kept.get(container) || new Map();
  const next = new Map();
  const nodes = items.map(([key, sig, make, timer]) => {
    const prev = old.get(key);
    const node = prev && prev.sig === sig ? prev.node : make();
    next.set(key, { sig, node });
    const t = node.querySelector('.timer');
    if (t && t.textContent !== timer) t.textContent = timer;
    return node;
  });
  kept.set(container, next);
  const same = nodes.length === container.children.length && nodes.every((n, i) => container.children[i] === n);
  if (!same) container.replaceChildren(...nodes);
  return nodes.length;
}

const STATUS_TEXT = { available: 'Available', ringing: 'Ringing', on_call: 'On a call', away: 'Away', wrapup: 'Wrap-up',
  busy_elsewhere: 'Busy elsewhere', offline: 'Offline' };
const GROUP = { available: 'available', ringing: 'busy', on_call: 'busy', away: 'away', wrapup: 'away', busy_elsewhere: 'away', offline: 'offline' };

// ---- the feed ----

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${scheme}://${location.host}/ws/supervisor`);
  ws.addEventListener('open', async () => {
    try {
      ws.send(JSON.stringify({ type: 'auth', token: await auth.accessToken() }));
    } catch { showSignIn(); }
  });
  ws.addEventListener('message', (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    if (m.type === 'snapshot') return applySnapshot(m.snapshot);
    if (m.type === 'delta') return applyDelta(m.delta);
    if (m.type === 'error' && (m.code === 'unauthorized' || m.code === 'forbidden' || m.code === 'revoked')) {
      auth.signOut();
      showSignIn(m.message);
    }
  });
  ws.addEventListener('close', () => {
    setLive(false);
    if ($('#board').hidden) return;
    const wait = Math.min(10_000, 500 * 2 ** retry++);
    setTimeout(connect, wait);
  });
}

function applySnapshot(s) {
  retry = 0;
  view.seq = s.seq;
  view.agents = new Map(s.agents.map((a) => [a.extension, a]));
  view.queues = new Map(s.queues.map((q) => [q.name, q]));
  view.calls = new Map(s.calls.map((c) => [c.id, c]));
  setLive(true);
  render();
}

function applyDelta(d) {
  if (d.seq <= view.seq) return; // already in the snapshot
  view.seq = d.seq;
  if (d.agent) view.agents.set(d.agent.extension, d.agent);
  if (d.queue) view.queues.set(d.queue.name, d.queue);
  if (d.call) {
    if (d.call.state === 'ended') {
      view.calls.delete(d.call.id);
      monitoring.delete(d.call.id);
    }
    else view.calls.set(d.call.id, d.call);
  }
  render();
}

function setLive(on) {
  const l = $('#live');
  l.dataset.state = on ? 'open' : 'off';
  l.textContent = on ? 'live' : 'reconnecting…';
}

// ---- rendering ----

function render() {
  const now = Date.now();
  const tiles = [...view.queues.values()].sort((a, b) => a.name.localeCompare(b.name)).map((q) => {
    const waited = q.oldest ? secondsBetween(q.oldest, now) : 0;
    return el('div', { class: `tile${waited > 60 ? ' alert' : ''}`, 'data-testid': `queue-${q.name}` },
      el('div', { class: 'muted' }, q.name),
      el('div', { class: 'big' }, q.waiting),
      el('div', {}, 'waiting'),
      el('div', { class: 'muted' }, q.waiting ? `longest ${clock(waited)}` : 'nobody waiting'));
  });
  $('#queues').replaceChildren(...tiles);

  const want = $('#filter-status').value;
  const text = $('#filter-text').value.trim().toLowerCase();
  const cards = [...view.agents.values()]
    .filter((a) => !want || GROUP[a.status] === want)
    .filter((a) => !text || a.extension.includes(text) || (a.username || '').toLowerCase().includes(text))
    .sort((a, b) => a.extension.localeCompare(b.extension))
    .map((a) => {
      const timer = a.since && a.status !== 'offline' ? clock(secondsBetween(a.since, now)) : '';
      return [a.extension, JSON.stringify(a), () => el('button', {
        type: 'button', class: 'agent', dataset: { status: a.status }, 'data-testid': `agent-${a.extension}`,
        title: 'Set this agent\u2019s status', on: { click: () => askStatus(a) },
      },
      el('div', { class: 'name' }, `${a.username || ''} · ${a.extension}`),
      el('div', {}, STATUS_TEXT[a.status] || a.status, a.reason ? ` — ${reasonLabel(a.reason)}` : ''),
      el('div', { class: 'timer' })), timer];
    });
  $('#agents-empty').hidden = renderList($('#agents'), cards) > 0;

  const rows = [...view.calls.values()].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).map((c) => {
    const timer = clock(secondsBetween(c.answeredAt || c.startedAt, now));
    return [c.id, JSON.stringify([c, monitoring.get(c.id) || '']), () => el('tr', { 'data-testid': `call-${c.id}` },
      el('td', {}, c.from), el('td', {}, c.to), el('td', {}, c.queue || ''), el('td', {}, (c.agents || []).join(', ')),
      el('td', {}, c.state), el('td', {}, qualityBadge(c)), el('td', { class: 'timer' }),
      el('td', { class: 'monitor' }, ...monitorButtons(c))), timer];
  });
  $('#calls-count').textContent = String(renderList($('#calls-body'), rows));
}

// ---- listen, whisper, barge (through the supervisor's own softphone) ----

/** The supervisor's part in each call they monitor, by call id. */
const monitoring = new Map();

const MODES = [['listen', 'Listen'], ['whisper', 'Whisper'], ['barge', 'Barge']];

function monitorButtons(c) {
  if (c.state !== 'active' && c.state !== 'held') return [];
  const mine = monitoring.get(c.id);
  const buttons = MODES.map(([mode, label]) => el('button', {
    type: 'button', class: mine === mode ? 'primary' : '', 'aria-pressed': String(mine === mode),
    'data-testid': `monitor-${mode}`, title: `${label} (your softphone carries the audio)`,
    on: { click: () => monitor(c.id, mode) },
  }, label));
  if (mine) buttons.push(el('button', { type: 'button', 'data-testid': 'monitor-leave', on: { click: () => monitor(c.id, null) } }, 'Leave'));
  return buttons;
}

async function monitor(callId, mode) {
  const token = await auth.accessToken();
  const res = await fetch(`/api/v1/calls/${encodeURIComponent(callId)}/monitor`, {
    method: mode ? 'PUT' : 'DELETE',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: mode ? JSON.stringify({ mode }) : undefined,
  });
  if (!res.ok && !(mode === null && (res.status === 404 || res.status === 409))) {
    const p = await res.json().catch(() => null);
    showNotice(p?.detail || `HTTP ${res.status}`);
    return;
  }
  // Leaving a call already left (from the softphone, or it moved on) is done.
  if (mode) monitoring.set(callId, mode);
  else monitoring.delete(callId);
  showNotice('');
  render();
}

function showNotice(text) {
  const n = $('#notice');
  n.hidden = !text;
  n.textContent = text;
}

const QUALITY_TEXT = { good: 'Good', fair: 'Fair', poor: 'Poor' };

/** A call's quality: a coloured badge with the worst leg's level, each leg's figures in its title and text. */
function qualityBadge(c) {
  if (!c.quality) return el('span', { class: 'muted' }, '—');
  const legName = (l) => (l.kind === 'sip' ? 'caller' : `agent ${l.extension}`);
  const worst = (c.legs || []).filter((l) => l.level === c.quality);
  const detail = (c.legs || []).map((l) => `${legName(l)}: MOS ${l.mos}, loss ${l.lossPercent} %, jitter ${l.jitterMs} ms, round trip ${l.rttMs} ms`).join('\n');
  return el('span', { class: 'quality', dataset: { quality: c.quality }, 'data-testid': `quality-${c.id}`, title: detail },
    QUALITY_TEXT[c.quality] || c.quality,
    c.quality !== 'good' && worst.length ? ` · ${worst.map(legName).join(', ')} (loss ${worst[0].lossPercent} %, MOS ${worst[0].mos})` : '');
}

// ---- setting an agent's status (audited by the server) ----

function askStatus(a) {
  if (a.status === 'offline') return;
  const dlg = $('#set-status');
  $('#set-status-who').textContent = a.username || a.extension;
  const f = $('#set-status-form');
  f.reset();
  dlg.onclose = async () => {
    if (dlg.returnValue !== 'ok') return;
    const token = await auth.accessToken();
    const res = await fetch(`/api/v1/agents/${encodeURIComponent(a.extension)}/status`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ status: f.status.value, reason: f.reason.value.trim() }),
    });
    if (!res.ok) {
      const p = await res.json().catch(() => null);
      alert(p?.detail || `HTTP ${res.status}`);
    }
  };
  dlg.showModal();
}

// ---- sign-in ----

function showSignIn(message = '') {
  $('#board').hidden = true;
  $('#sign-out').hidden = true;
  $('#signin').hidden = false;
  $('#signin-error').hidden = !message;
  $('#signin-error').textContent = message;
  const t = new URLSearchParams(location.search).get('tenant');
  if (t) $('#signin-form').tenant.value = t;
}

async function enter() {
  const token = await auth.accessToken();
  const res = await fetch('/api/v1/me', { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  who = await res.json();
  if (who.role !== 'admin' && who.role !== 'supervisor') throw new Error('The wallboard is for supervisors and administrators.');
  $('#who').textContent = who.username || '';
  $('#softphone-link').hidden = !who.extension;
  $('#signin').hidden = true;
  $('#board').hidden = false;
  $('#sign-out').hidden = false;
  connect();
}

function start() {
  $('#signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      await auth.login(f.tenant.value.trim(), f.login.value.trim(), f.password.value);
      f.password.value = '';
      await enter();
    } catch (err) {
      showSignIn(err.message);
    }
  });
  $('#sign-out').addEventListener('click', () => { auth.signOut(); location.reload(); });
  $('#filter-status').addEventListener('change', render);
  $('#filter-text').addEventListener('input', render);
  setInterval(render, 1000);
  if (auth.restore()) {
    enter().catch(() => { auth.signOut(); showSignIn(); });
    return;
  }
  showSignIn();
}

start();
