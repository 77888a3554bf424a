// embed.js: the postMessage bridge between the widget (in an iframe) and
// the CRM page around it. docs/widget-api.md is its contract.
//
// - Only the parent window, and only from an origin on the allowlist (the
//   server puts it in <meta name="rb-embed-origins">; our own origin is
//   always on it), is listened to. Anything else is dropped without reply.
// - We never post to "*": every message names its target origin, so a
//   parent that navigated to another site receives nothing.
// - A handshake pins the host's origin; commands before it get the coded
//   error handshake_required. Events before it are kept (up to 50) and
//   delivered, in order, right after the handshake's response.

export const ENVELOPE = 'ringbridge'; // the envelope's marker field; its value is the API version
export const API_VERSION = 1;
const BUFFER_MAX = 50;

export const EVENTS = ['ready', 'agent.signedIn', 'agent.signedOut', 'agent.statusChanged', 'agent.connection',
  'agent.tokenRequired', 'call.incoming', 'call.dialing', 'call.restored', 'call.updated', 'call.answered',
  'call.held', 'call.resumed', 'call.muted', 'call.transferred', 'call.consult', 'call.remoteHold', 'call.recording', 'call.ended', 'server.draining'];

/** Reads the allowlist the server rendered into the page, plus our own origin. */
export function allowedOrigins(doc = document) {
  const meta = doc.querySelector('meta[name="rb-embed-origins"]')?.getAttribute('content') || '';
  return new Set([location.origin, ...meta.split(/\s+/).filter((o) => /^https?:\/\/[^/\s]+$/.test(o))]);
}

const err = (code, message) => ({ code, message });

export class EmbedBridge {
  #phone;
  #allowed;
  #host = ''; // the origin pinned by the handshake
  #seq = 0;
  #buffer = [];
  /** Messages dropped because of their source or origin (tests read it). */
  dropped = 0;

  /**
   * @param {import('./phone.js').Phone} phone
   * @param {Set<string>} allowed
   */
  constructor(phone, allowed) {
    this.#phone = phone;
    this.#allowed = allowed;
  }

  get connectedOrigin() { return this.#host; }

  start() {
    if (window.parent === window) return false;
    addEventListener('message', (e) => this.#onMessage(e));
    this.#phone.addEventListener('rb', (e) => this.#event(e.detail.event, e.detail.data));
    // Announce ourselves to the parent without knowing its origin: a
    // message to a target origin that is not the parent's is dropped by the
    // browser, so only an allowed parent hears this.
    const ready = this.#envelope({ kind: 'event', event: 'ready', seq: ++this.#seq, data: { version: API_VERSION } });
    const parentOrigin = location.ancestorOrigins?.[0];
    for (const o of this.#allowed) {
      if (!parentOrigin || parentOrigin === o) window.parent.postMessage(ready, o);
    }
    return true;
  }

  #onMessage(e) {
    const m = e.data;
    if (e.source !== window.parent || !this.#allowed.has(e.origin)) {
      if (m && typeof m === 'object' && ENVELOPE in m) this.dropped++;
      return;
    }
    if (!m || typeof m !== 'object' || m[ENVELOPE] === undefined || m.kind !== 'request') return;
    const reply = (body) => window.parent.postMessage(this.#envelope({ kind: 'response', id: m.id ?? null, ...body }), e.origin);
    if (m[ENVELOPE] !== API_VERSION) return reply({ ok: false, error: err('unsupported_version', `This widget speaks version ${API_VERSION}.`) });
    if (typeof m.method !== 'string') return reply({ ok: false, error: err('bad_request', 'method is required') });
    if (m.method === 'handshake') {
      this.#host = e.origin;
      reply({ ok: true, result: { version: API_VERSION, widget: 'ringbridge', methods: Object.keys(this.#methods()), events: EVENTS, state: this.#phone.snapshot() } });
      for (const ev of this.#buffer.splice(0)) window.parent.postMessage(ev, this.#host);
      return;
    }
    if (e.origin !== this.#host) return reply({ ok: false, error: err('handshake_required', 'Send "handshake" first.') });
    const fn = this.#methods()[m.method];
    if (!fn) return reply({ ok: false, error: err('unknown_method', `Unknown method "${m.method}".`) });
    const params = m.params && typeof m.params === 'object' ? m.params : {};
    Promise.resolve()
      .then(() => fn(params))
      .then((result) => reply({ ok: true, result: result ?? {} }),
        (x) => reply({ ok: false, error: err(x?.code || 'failed', x?.message || String(x)) }));
  }

  #methods() {
    const p = this.#phone;
    return {
      getState: () => p.snapshot(),
      signIn: (q) => { p.adoptToken(q); return p.snapshot(); },
      signOut: () => { p.signOut(); },
      setStatus: (q) => p.setStatus(q.status, q.reason),
      dial: async (q) => ({ call: await p.dial(q.number, q.callData) }),
      answer: (q) => p.answer(q.callId),
      decline: (q) => p.decline(q.callId),
      hangup: (q) => p.hangup(q.callId),
      hold: (q) => p.hold(q.on !== false, q.callId),
      recording: (q) => p.recording(q.action, q.callId),
      mute: (q) => p.mute(q.on !== false),
      dtmf: (q) => p.dtmf(q.digits, q.callId),
      transfer: (q) => p.transfer(q.to, q.callId),
      consult: (q) => p.consult(q.to, q.callId),
      consultSwap: (q) => p.consultSwap(q.callId),
      consultComplete: (q) => p.consultComplete(q.callId),
      consultCancel: (q) => p.consultCancel(q.callId),
      conference: (q) => p.conference(q.callId),
      getForwarding: () => p.getForwarding(),
      setForwarding: (q) => p.setForwarding(q.rules),
      clearForwarding: () => p.clearForwarding(),
      attachCallData: (q) => p.attachCallData(q.data, q.callId),
    };
  }

  #event(event, data) {
    const ev = this.#envelope({ kind: 'event', event, seq: ++this.#seq, data });
    if (this.#host) {
      window.parent.postMessage(ev, this.#host);
    } else if (this.#buffer.push(ev) > BUFFER_MAX) {
      this.#buffer.shift();
    }
  }

  #envelope(body) {
    return { [ENVELOPE]: API_VERSION, ...body, at: new Date().toISOString() };
  }
}
