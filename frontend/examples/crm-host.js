// crm-host.js: a small CRM page that embeds the ringbridge widget and talks
// to it with postMessage (docs/widget-api.md). Copy what you need:
// RingbridgeWidget is the whole client (about 80 lines, no dependencies).

/**
 * A client for the widget's postMessage API: handshake, requests with
 * ids, events. Only messages from the widget's frame and origin are read,
 * and every message names the widget's origin as its target.
 */
export class RingbridgeWidget extends EventTarget {
  #frame;
  #origin;
  #pending = new Map();
  #nextId = 1;
  #handshake = null;
  connected = false;
  state = null;

  /** @param {HTMLIFrameElement} frame @param {string} widgetUrl */
  constructor(frame, widgetUrl) {
    super();
    const url = new URL(widgetUrl, location.href);
    this.#frame = frame;
    this.#origin = url.origin;
    addEventListener('message', (e) => this.#onMessage(e));
    frame.addEventListener('load', () => { if (!this.connected) this.connect(); });
    frame.src = url.href;
  }

  /** Handshakes, retrying until the widget answers (it may still be loading). */
  connect() {
    if (this.#handshake) return this.#handshake;
    this.#handshake = (async () => {
      for (let i = 0; i < 40 && !this.connected; i++) {
        try {
          const r = await this.request('handshake', { version: 1 }, 500);
          this.connected = true;
          this.state = r.state;
          this.dispatchEvent(new CustomEvent('connected', { detail: r }));
        } catch (err) {
          if (err.code !== 'timeout') throw err;
        }
      }
    })().finally(() => { this.#handshake = null; });
    return this.#handshake;
  }

  /** Sends a command; resolves with its result or rejects with {code, message}. */
  request(method, params = {}, timeoutMs = 20_000) {
    const id = `crm-${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(Object.assign(new Error(`${method}: no reply`), { code: 'timeout' }));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#frame.contentWindow?.postMessage({ ringbridge: 1, kind: 'request', id, method, params }, this.#origin);
    });
  }

  #onMessage(e) {
    if (e.source !== this.#frame.contentWindow || e.origin !== this.#origin) return;
    const m = e.data;
    if (!m || m.ringbridge !== 1) return;
    if (m.kind === 'response') {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(Object.assign(new Error(m.error?.message || m.error?.code), { code: m.error?.code }));
    } else if (m.kind === 'event') {
      if (m.event === 'ready') { this.connected = false; this.connect(); } // a new widget page: handshake again
      this.dispatchEvent(new CustomEvent(m.event, { detail: m.data }));
      this.dispatchEvent(new CustomEvent('any', { detail: m }));
    }
  }
}

// ---- the example CRM ----

const customers = [
  { id: 'c-1001', name: 'Dana Whitfield', company: 'Northwind Traders', tier: 'Gold', phone: '+15550104477', notes: 'Renewal due next month. Prefers email follow-ups.' },
  { id: 'c-1002', name: 'Rahul Mehta', company: 'Contoso Ltd', tier: 'Silver', phone: '+15550106655', notes: 'Open ticket #4412 (billing address).' },
  { id: 'c-1003', name: 'Mia Kovács', company: 'Fabrikam', tier: 'Bronze', phone: '+3612345678', notes: 'Speaks Hungarian and English.' },
  { id: 'c-1004', name: 'Support desk', company: 'Internal', tier: '', phone: '1002', notes: 'Second-line support (extension 1002).' },
];

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const widgetUrl = new URL(params.get('widget') || '/widget', location.href);
if (params.get('tenant')) widgetUrl.searchParams.set('tenant', params.get('tenant'));
if (params.has('test')) widgetUrl.searchParams.set('test', '1');
const widget = new RingbridgeWidget($('softphone'), widgetUrl.href);
window.crm = { widget, events: [] }; // for the browser tests and the console

const digits = (n) => String(n || '').replace(/[^0-9+]/g, '');
const byNumber = (n) => customers.find((c) => digits(c.phone) === digits(n) || digits(c.phone).replace(/^\+/, '') === digits(n).replace(/^\+/, ''));

for (const c of customers) {
  const tr = document.createElement('tr');
  const a = Object.assign(document.createElement('a'), { href: `tel:${c.phone}`, textContent: c.phone });
  a.dataset.dial = c.phone;
  a.dataset.testid = `dial-${c.id}`;
  a.setAttribute('aria-label', `Call ${c.name} at ${c.phone}`);
  for (const text of [c.name, c.company]) tr.append(Object.assign(document.createElement('td'), { textContent: text }));
  const td = document.createElement('td');
  td.append(a);
  tr.append(td);
  $('customer-rows').append(tr);
}

// Click-to-dial: the widget places the call; we attach the customer's id.
$('customer-rows').addEventListener('click', async (e) => {
  const a = e.target.closest('a[data-dial]');
  if (!a) return;
  e.preventDefault();
  const c = byNumber(a.dataset.dial);
  $('dial-status').textContent = `Calling ${c?.name || a.dataset.dial}…`;
  try {
    const r = await widget.request('dial', { number: a.dataset.dial, callData: { customerId: c?.id || null } });
    $('dial-status').textContent = `Call ${r.call?.callId || ''} placed.`;
  } catch (err) {
    $('dial-status').textContent = `Could not call: ${err.code}: ${err.message}`;
  }
});

$('host-hangup').addEventListener('click', () => widget.request('hangup').catch((err) => { $('dial-status').textContent = err.message; }));
$('host-hold').addEventListener('click', () => {
  const held = $('host-hold').dataset.held === 'true';
  widget.request('hold', { on: !held }).catch((err) => { $('dial-status').textContent = err.message; });
});

widget.addEventListener('connected', () => { $('link-state').textContent = 'widget: connected'; });
widget.addEventListener('any', (e) => {
  const m = e.detail;
  window.crm.events.push({ seq: m.seq, event: m.event, data: m.data });
  const li = document.createElement('li');
  li.textContent = `${m.seq} ${m.event}${m.data?.callId ? ` ${m.data.callId}` : ''}${m.data?.status && m.event === 'agent.statusChanged' ? ` ${m.data.status}` : ''}`;
  li.dataset.event = m.event;
  $('event-log').prepend(li);
});

// Screen pop: open the customer on an incoming call (the widget's card, or our own lookup).
function openPanel(call, heading) {
  const c = byNumber(call.number);
  const card = call.card || {};
  $('customer-panel').hidden = false;
  $('panel-title').textContent = card.name || c?.name || `Unknown caller ${call.number}`;
  $('panel-badge').textContent = card.tier || c?.tier || '';
  $('panel-company').textContent = card.company || c?.company || '';
  $('panel-notes').textContent = card.notes || c?.notes || '';
  $('panel-call').textContent = `${heading} · ${call.number}`;
}

const activity = (text) => {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('activity').prepend(li);
};

widget.addEventListener('call.incoming', (e) => { openPanel(e.detail, 'Incoming call'); activity('Incoming call'); });
widget.addEventListener('call.dialing', (e) => { openPanel(e.detail, 'Calling'); });
widget.addEventListener('call.restored', (e) => { openPanel(e.detail, 'Call in progress'); });
widget.addEventListener('call.updated', (e) => { openPanel(e.detail, 'Call'); });
widget.addEventListener('call.answered', (e) => { $('panel-call').textContent = `Connected · ${e.detail.number}`; activity('Answered'); });
widget.addEventListener('call.held', () => { $('host-hold').dataset.held = 'true'; $('host-hold').textContent = 'Resume'; });
widget.addEventListener('call.resumed', () => { $('host-hold').dataset.held = 'false'; $('host-hold').textContent = 'Hold'; });
widget.addEventListener('call.ended', (e) => {
  const d = e.detail;
  $('host-hold').dataset.held = 'false';
  $('host-hold').textContent = 'Hold';
  $('panel-call').textContent = `Call ended · ${d.endReason} · ${d.durationSeconds} s`;
  activity(`Call ${d.callId} ended (${d.endReason}, ${d.durationSeconds} s)`);
});
