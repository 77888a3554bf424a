// phone.js: the softphone's logic, without the page. It ties the agent's
// tokens (auth.js), the websocket (agent-socket.js) and the audio
// (media.js) together, keeps the state the element renders, and reports
// what happens as named events for the CRM (docs/widget-api.md).
//
// The call belongs to the server, not the tab: a reload, or a CRM
// re-creating the iframe, signs in again from sessionStorage and the server
// moves the call in progress to the new session ("takeover"); another tab
// of the same agent is told the phone is in use and does not steal it.

import { AgentSocket, RequestError, PROTOCOL_VERSION } from './agent-socket.js';
import { AgentMedia } from './media.js';
import { cleanNumber, isDialable, isDTMF, jwtPayload, secondsBetween } from './format.js';
import { TabPresence } from './tabs.js';

const OWNER_KEY = 'rb.owner'; // sessionStorage: this tab held the agent's session
const RECENT_MAX = 20;
const CALL_DATA_MAX = 8192; // bytes of JSON a host may attach to one call

const fail = (code, message) => new RequestError(code, message);
const STATE_RANK = { ringing: 0, dialing: 1, early: 2, active: 3, held: 3, ended: 4 };
/**
 * Whether a call rings for this agent to answer: an inbound call, the
 * callee's side of an internal call, or a click-to-call a CRM started over
 * REST (answering it dials out).
 */
export const isIncoming = (c, ext) => c.state === 'ringing' &&
  (c.direction === 'inbound' || c.origin === 'click_to_call' || (c.direction === 'internal' && c.from !== ext));

/**
 * Events: "change" (render again), "rb" (detail {event, data}: the events
 * of docs/widget-api.md), "ring" (detail: the incoming call, or null when
 * ringing stops).
 */
export class Phone extends EventTarget {
  state = {
    signedIn: false,
    conn: 'idle', // agent-socket states
    connDetail: {},
    agent: { username: '', extension: '', tenant: '', displayName: '' },
    status: 'offline', reason: '', until: 0,
    awayReasons: /** @type {string[]} */ ([]),
    wrapUpSeconds: 0,
    call: /** @type {any} */ (null),
    dtmfLog: /** @type {string[]} */ ([]),
    recent: /** @type {any[]} */ ([]),
    muted: false,
    statusSince: 0, // ms since the epoch; when the status began
    draining: /** @type {{until: string} | null} */ (null),
    error: '',
    protocolWarning: '',
  };
  auth;
  socket;
  media;
  #session; // sessionStorage wrapper
  #local; // localStorage wrapper
  #tabs;
  #known = new Map(); // call id → last call object seen
  #callData = new Map();
  #nextCallData = null;
  #transfers = new Map();
  #guessedEnd = new Set(); // calls ended while we were away, reason not yet known
  #micPromise = null;
  #announced = false;

  /**
   * @param {{auth: import('./auth.js').AuthSession, audio: HTMLAudioElement, prefs: object,
   *          session: any, local: any, wsUrl: string}} deps
   */
  constructor({ auth, audio, prefs, session, local, wsUrl }) {
    super();
    this.auth = auth;
    this.#session = session;
    this.#local = local;
    this.socket = new AgentSocket(wsUrl, auth);
    this.media = new AgentMedia(audio, prefs);
    this.#tabs = new TabPresence(() => this.#agentKey(), () => this.socket.state === 'open');
    this.socket.addEventListener('state', (e) => this.#onSocketState(e.detail));
    this.socket.addEventListener('welcome', (e) => this.#onWelcome(e.detail).catch((err) => this.#error(err)));
    this.socket.addEventListener('message', (e) => this.#onEvent(e.detail));
    this.media.addEventListener('statechange', () => this.#changed());
    this.media.addEventListener('mic', () => this.#changed());
    auth.addEventListener('expired', (e) => this.signOut(e.detail.message));
    auth.addEventListener('tokenrequired', () => this.#emit('agent.tokenRequired', { expiresAt: new Date(auth.tokens?.expiresAt || 0).toISOString() }));
  }

  // ---- signing in and out ----

  /** Signs back in from this tab's stored tokens (a reload). */
  async boot() {
    if (!this.auth.restore()) return false;
    const owned = this.#session.get(OWNER_KEY) === this.#agentKey();
    // A duplicated tab copies sessionStorage: take over only if no live tab answers for the agent.
    const elsewhere = owned ? await this.#tabs.heldElsewhere() : false;
    this.#begin({ takeover: owned && !elsewhere });
    return true;
  }

  async signIn(tenant, login, password) {
    await this.auth.login(tenant, login, password);
    this.#begin({ takeover: false });
  }

  /** Tokens handed in by the host page. */
  adoptToken(t) {
    if (typeof t?.accessToken !== 'string' || !t.accessToken) throw fail('bad_params', 'accessToken is required');
    const wasSignedIn = this.state.signedIn;
    this.auth.adopt({ ...t, tenant: t.tenant || jwtPayload(t.accessToken)?.tid || '' });
    if (!wasSignedIn) this.#begin({ takeover: Boolean(t.takeover) });
  }

  signOut(message = '') {
    const wasSignedIn = this.state.signedIn;
    this.socket.stop();
    this.media.close();
    this.dispatchEvent(new CustomEvent('ring', { detail: null }));
    this.#session.remove(OWNER_KEY);
    this.auth.signOut();
    this.#known.clear();
    Object.assign(this.state, { signedIn: false, call: null, status: 'offline', reason: '', until: 0, muted: false, error: message });
    this.#micPromise = null;
    this.#announced = false;
    if (wasSignedIn) this.#emit('agent.signedOut', { reason: message ? 'expired' : 'signed_out' });
    this.#changed();
  }

  /** "Use here": take the session (and any call) over from another tab. */
  useHere() {
    this.media.reset();
    this.socket.start({ takeover: true, fresh: true });
  }

  retryNow() { this.socket.retryNow(); }

  async retryMic() {
    await this.media.openMic();
  }

  #begin({ takeover }) {
    this.state.signedIn = true;
    const u = this.auth.user;
    if (u) this.state.agent = { ...this.state.agent, username: u.username || '', extension: u.extension || '', displayName: u.displayName || '' };
    this.state.error = '';
    this.state.recent = this.#loadRecent();
    this.#micPromise ??= this.media.openMic();
    this.socket.start({ takeover, fresh: true });
    this.#changed();
  }

  #agentKey() {
    const p = jwtPayload(this.auth.tokens?.accessToken);
    return p ? `${p.tid}/${p.sub}` : '';
  }

  // ---- websocket ----

  #onSocketState(d) {
    this.state.conn = d.state;
    this.state.connDetail = d;
    if (d.state === 'in-use' || d.state === 'replaced') {
      this.#session.remove(OWNER_KEY);
      this.media.reset();
      this.dispatchEvent(new CustomEvent('ring', { detail: null }));
      this.state.call = null;
      this.#known.clear();
    }
    if (d.state === 'forbidden') this.signOut(d.message);
    this.#emit('agent.connection', { state: d.state });
    this.#changed();
  }

  async #onWelcome({ welcome: w, resumed }) {
    this.state.draining = null; // a welcome means a server that takes calls
    if (w.version !== PROTOCOL_VERSION) {
      this.state.protocolWarning = `The server speaks protocol version ${w.version}; this softphone speaks ${PROTOCOL_VERSION}. Reload the page.`;
    }
    const agent = { username: w.username || '', extension: w.extension || '', tenant: w.tenantId || this.auth.tenant };
    this.state.agent = { ...agent, displayName: this.auth.user?.displayName || w.username || '' };
    this.auth.setUser({ username: agent.username, extension: agent.extension });
    this.state.awayReasons = Array.isArray(w.awayReasons) ? w.awayReasons.filter((r) => typeof r === 'string' && r) : [];
    this.state.wrapUpSeconds = Number(w.wrapUpSeconds) || 0;
    this.#session.set(OWNER_KEY, this.#agentKey());
    if (!this.#announced) {
      this.#announced = true;
      this.#emit('agent.signedIn', { ...agent });
    }
    this.#setStatus(w.status, w.reason ?? w.statusReason ?? '', w.statusUntil ?? w.until ?? '', w.statusSince || '');

    // A call we showed that the server no longer lists ended while we were away.
    const live = new Set((w.calls || []).map((c) => c.id));
    // Its real "ended" event is usually among the queued events that follow
    // the welcome; until then the reason is unknown.
    for (const c of [...this.#known.values()]) {
      if (!live.has(c.id) && c.state !== 'ended') {
        this.#guessedEnd.add(c.id);
        this.#onCall({ ...c, state: 'ended', endReason: 'unknown', endedAt: new Date().toISOString() });
      }
    }
    for (const c of w.calls || []) this.#onCall(c);

    const signal = (m) => this.socket.request(m);
    if (resumed && this.media.pc) {
      this.media.resumed(); // same session, same server-side PeerConnection
    } else {
      await this.#micPromise;
      // A new session has a new server-side PeerConnection; its calls'
      // audio flows as soon as this one connects.
      if (this.socket.state === 'open') await this.media.start(signal, w.iceServers || []);
    }
    this.#changed();
  }

  #onEvent(m) {
    switch (m.type) {
      case 'ice': if (m.candidate) this.media.addRemoteCandidate(m.candidate); return;
      case 'call': if (m.call) this.#onCall(m.call); return;
      case 'dtmf': this.#logDigit(`← ${m.digits}`); return this.#changed();
      case 'status': this.#setStatus(m.status, m.reason || '', m.until || '', m.since || ''); return this.#changed();
      case 'error': if (m.code !== 'session_in_use' && m.code !== 'session_replaced') this.#error(m); return;
      case 'draining':
        this.state.draining = { until: m.until || '' };
        this.#emit('server.draining', { until: m.until || null });
        return this.#changed();
      default: // new event types are additive: ignore
    }
  }

  // ---- status ----

  #setStatus(status, reason, until, since = '') {
    const s = this.state;
    const untilMs = until ? Date.parse(until) || 0 : 0;
    if (s.status === status && s.reason === reason && s.until === untilMs) return;
    const sinceMs = (since && Date.parse(since)) || Date.now();
    Object.assign(s, { status: status || 'offline', reason: status === 'away' ? reason : '', until: untilMs, statusSince: sinceMs });
    this.#emit('agent.statusChanged', { status: s.status, reason: s.reason, until: untilMs ? new Date(untilMs).toISOString() : null,
      since: new Date(sinceMs).toISOString() });
  }

  /** @param {string} status available | away @param {string} [reason] */
  async setStatus(status, reason = '') {
    if (status !== 'available' && status !== 'away') throw fail('bad_params', 'status must be "available" or "away"');
    const msg = { type: 'status', status };
    if (status === 'away' && reason) msg.reason = String(reason).slice(0, 100);
    await this.#request(msg);
  }

  // ---- calls ----

  #onCall(c) {
    const prev = this.#known.get(c.id);
    if (prev?.state === 'ended') return; // nothing follows ended
    if (!prev && c.state === 'ended' && this.#guessedEnd.delete(c.id)) return this.#correctEnd(c);
    // States only move forward (but active <-> held). A dial's ack can
    // arrive after later events of its call; its older state is ignored.
    if (prev && STATE_RANK[c.state] < STATE_RANK[prev.state]) return;
    const call = { ...c, card: c.card || prev?.card || null };
    const pub = () => this.#public(call);
    if (!prev && call.state !== 'ended') {
      if (isIncoming(call, this.state.agent.extension)) this.#emit('call.incoming', pub());
      else if (['dialing', 'early', 'ringing'].includes(call.state)) this.#emit('call.dialing', pub());
      else this.#emit('call.restored', pub()); // already answered: re-attached after a reload
      if (this.#nextCallData && !isIncoming(call, this.state.agent.extension)) {
        this.#callData.set(call.id, this.#nextCallData);
        this.#nextCallData = null;
      }
    }
    if (prev && !prev.card && c.card) this.#emit('call.updated', pub());
    if (call.state === 'active' && prev && ['ringing', 'dialing', 'early'].includes(prev.state)) this.#emit('call.answered', pub());
    if (call.state === 'held' && prev?.state === 'active') this.#emit('call.held', pub());
    if (call.state === 'active' && prev?.state === 'held') this.#emit('call.resumed', pub());
    if (prev && Boolean(call.remoteHeld) !== Boolean(prev.remoteHeld)) this.#emit('call.remoteHold', { ...pub(), held: Boolean(call.remoteHeld) });
    if (prev && (call.recording || null) !== (prev.recording || null) && call.state !== 'ended') this.#emit('call.recording', pub());
    this.#known.set(call.id, call);

    if (call.state === 'ended') {
      this.#known.delete(call.id);
      if (prev) this.#ended(call);
      if (this.state.call?.id === call.id) {
        this.state.call = null;
        this.media.setMuted(false);
        this.state.muted = false;
      }
    } else if (!this.state.call || this.state.call.id === call.id) {
      if (this.state.call?.id !== call.id) this.state.dtmfLog = [];
      this.state.call = call;
    }
    const ringing = this.state.call && isIncoming(this.state.call, this.state.agent.extension) ? this.state.call : null;
    this.dispatchEvent(new CustomEvent('ring', { detail: ringing }));
    this.#changed();
  }

  #ended(call) {
    const pub = this.#public(call);
    if (call.endReason === 'transferred') this.#emit('call.transferred', { ...pub, to: this.#transfers.get(call.id) || null });
    const endedAt = call.endedAt || new Date().toISOString();
    const durationSeconds = call.answeredAt ? secondsBetween(call.answeredAt, endedAt) : 0;
    this.#emit('call.ended', { ...pub, endReason: call.endReason || 'unknown', durationSeconds, totalSeconds: secondsBetween(call.startedAt, endedAt) });
    this.#transfers.delete(call.id);
    this.#callData.delete(call.id);
    const entry = {
      id: call.id, direction: call.direction, number: call.remote || call.from || '', name: call.card?.name || '',
      endReason: call.endReason || '', endedAt, durationSeconds,
    };
    this.state.recent = [entry, ...this.state.recent.filter((r) => r.id !== call.id)].slice(0, RECENT_MAX);
    this.#local.set(this.#recentKey(), JSON.stringify(this.state.recent));
  }

  /** The real end of a call whose end we had to guess after a reconnect. */
  #correctEnd(c) {
    const r = this.state.recent.find((x) => x.id === c.id);
    if (!r) return;
    Object.assign(r, { endReason: c.endReason || '', endedAt: c.endedAt || r.endedAt,
      durationSeconds: c.answeredAt ? secondsBetween(c.answeredAt, c.endedAt) : 0 });
    this.state.recent = [...this.state.recent];
    this.#local.set(this.#recentKey(), JSON.stringify(this.state.recent));
    this.#changed();
  }

  /** The call as the host page sees it (docs/widget-api.md, "Call"). */
  #public(c) {
    return {
      callId: c.id, direction: c.direction, origin: c.origin || null, state: c.state, number: c.remote || '', from: c.from || '', to: c.to || '',
      startedAt: c.startedAt || null, answeredAt: c.answeredAt || null, endedAt: c.endedAt || null, endReason: c.endReason || null,
      card: c.card || null, callData: this.#callData.get(c.id) || {}, remoteHeld: Boolean(c.remoteHeld), queue: c.queue || null,
      recording: c.recording || null,
    };
  }

  /** @param {string} number @param {object} [callData] */
  async dial(number, callData) {
    const to = cleanNumber(number);
    if (!isDialable(to)) throw fail('bad_params', 'Enter a phone number or an extension.');
    if (this.state.call) throw fail('conflict', 'Already on a call.');
    if (callData) this.#nextCallData = { ...(this.#nextCallData || {}), ...checkCallData(callData) };
    let r;
    try {
      r = await this.#request({ type: 'dial', to });
    } catch (err) {
      this.#nextCallData = null;
      throw err;
    }
    if (r.call) this.#onCall(r.call);
    return r.call ? this.#public(this.#known.get(r.call.id) || r.call) : null;
  }

  answer(callId) { return this.#callRequest('answer', callId); }
  decline(callId) { return this.#callRequest('reject', callId); }
  hangup(callId) { return this.#callRequest('hangup', callId); }
  hold(on, callId) { return this.#callRequest(on ? 'hold' : 'unhold', callId); }
  /** Starts, pauses or resumes the call's recording (docs/recordings.md). */
  recording(action, callId) {
    if (!['start', 'pause', 'resume'].includes(action)) return Promise.reject(fail('bad_params', 'action must be start, pause or resume.'));
    return this.#callRequest('recording', callId, { action });
  }

  async dtmf(digits, callId) {
    const d = String(digits ?? '').toUpperCase();
    if (!isDTMF(d)) throw fail('bad_params', 'Digits must be 1 to 32 of 0-9 * # A-D.');
    await this.#callRequest('dtmf', callId, { digits: d });
    this.#logDigit(`→ ${d}`);
    this.#changed();
  }

  async transfer(to, callId) {
    const dest = cleanNumber(to);
    if (!isDialable(dest)) throw fail('bad_params', 'Enter an extension or number to transfer to.');
    const id = callId || this.state.call?.id;
    this.#transfers.set(id, dest);
    try {
      await this.#callRequest('transfer', id, { to: dest });
    } catch (err) {
      this.#transfers.delete(id);
      if (err.code === 'bad_message' && /unknown message type/i.test(err.message)) throw fail('unsupported', 'This server cannot transfer calls yet.');
      throw err;
    }
  }

  mute(on) {
    if (!this.state.call) throw fail('no_call', 'There is no call to mute.');
    this.media.setMuted(Boolean(on));
    this.state.muted = Boolean(on);
    this.#emit('call.muted', { callId: this.state.call.id, muted: this.state.muted });
    this.#changed();
  }

  /** Data the CRM attaches to the current (or next dialled) call; returned in its events. */
  attachCallData(data, callId) {
    const d = checkCallData(data);
    const id = callId || this.state.call?.id;
    if (!id) { this.#nextCallData = { ...(this.#nextCallData || {}), ...d }; return; }
    if (!this.#known.has(id)) throw fail('no_call', `No call ${id}.`);
    this.#callData.set(id, { ...(this.#callData.get(id) || {}), ...d });
  }

  snapshot() {
    const s = this.state;
    return {
      signedIn: s.signedIn, connection: s.conn,
      agent: s.signedIn ? { username: s.agent.username, extension: s.agent.extension, tenant: s.agent.tenant } : null,
      status: { status: s.status, reason: s.reason, until: s.until ? new Date(s.until).toISOString() : null },
      awayReasons: s.awayReasons,
      call: s.call ? this.#public(s.call) : null,
      muted: s.muted, microphone: this.media.micState,
    };
  }

  async #callRequest(type, callId, extra = {}) {
    const id = callId || this.state.call?.id;
    if (!id) throw fail('no_call', 'There is no call.');
    await this.#request({ type, callId: id, ...extra });
  }

  #request(msg) {
    if (!this.state.signedIn) return Promise.reject(fail('not_signed_in', 'The agent is not signed in.'));
    return this.socket.request(msg);
  }

  #logDigit(text) {
    this.state.dtmfLog = [...this.state.dtmfLog, text].slice(-12);
  }

  #recentKey() { return `rb.recent.${this.#agentKey()}`; }

  #loadRecent() {
    try {
      const r = JSON.parse(this.#local.get(this.#recentKey()) || '[]');
      return Array.isArray(r) ? r.slice(0, RECENT_MAX) : [];
    } catch {
      return [];
    }
  }

  clearRecent() {
    this.state.recent = [];
    this.#local.remove(this.#recentKey());
    this.#changed();
  }

  #error(err) {
    this.state.error = err?.message || String(err);
    this.#changed();
  }

  clearError() {
    if (!this.state.error) return;
    this.state.error = '';
    this.#changed();
  }

  #emit(event, data) { this.dispatchEvent(new CustomEvent('rb', { detail: { event, data } })); }
  #changed() { this.dispatchEvent(new Event('change')); }
}

function checkCallData(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw fail('bad_params', 'callData must be an object.');
  const json = JSON.stringify(data);
  if (json.length > CALL_DATA_MAX) throw fail('bad_params', `callData is over ${CALL_DATA_MAX} bytes.`);
  return JSON.parse(json);
}
