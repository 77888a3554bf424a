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
import { ForwardingAPI } from './rest.js';
import { RecentCalls } from './recent.js';
import { isIncoming, publicCall, checkCallData } from './call-view.js';

export { isIncoming };

const OWNER_KEY = 'rb.owner'; // sessionStorage: this tab held the agent's session
const STALL_PROBE_MS = 1500; // a live websocket answers a ping well within this

const fail = (code, message) => new RequestError(code, message);
const STATE_RANK = { ringing: 0, dialing: 1, early: 2, active: 3, held: 3, ended: 4 };

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
    // A second call (call waiting): ringing while the agent talks, or held
    // while they take the other one.
    other: /** @type {any} */ (null),
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
  #tabs;
  #closed = false;
  #recent;
  #forwarding = new ForwardingAPI({ accessToken: () => this.auth.accessToken() }, () => (this.state.signedIn ? this.state.agent.extension : ''));
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
    this.#recent = new RecentCalls(local, () => this.#agentKey());
    this.socket = new AgentSocket(wsUrl, auth);
    this.media = new AgentMedia(audio, prefs);
    this.#tabs = new TabPresence(() => this.#agentKey(), () => this.socket.state === 'open');
    this.socket.addEventListener('state', (e) => this.#onSocketState(e.detail));
    this.socket.addEventListener('welcome', (e) => this.#onWelcome(e.detail).catch((err) => this.#error(err)));
    this.socket.addEventListener('message', (e) => this.#onEvent(e.detail));
    this.media.addEventListener('statechange', () => this.#changed());
    this.media.addEventListener('mic', () => this.#changed());
    // A lost media path usually means a new network, where the websocket's
    // TCP connection is dead too but would take its ping timeout to say so.
    this.media.addEventListener('pathlost', () => this.socket.reconnect());
    // A call's audio stopped: if the websocket is dead too, the network
    // changed under us (an address gone, no event for it): reconnect and
    // restart ICE now. If it answers, the far end is merely silent.
    this.media.addEventListener('stalled', async () => {
      if (await this.socket.probe(STALL_PROBE_MS)) return;
      this.socket.reconnect();
      this.media.networkChanged();
    });
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

  /**
   * Releases the websocket, the PeerConnection, the microphone, timers and
   * window listeners without signing out: the server keeps the session (and
   * a call in progress) for its grace period, as for a closed tab, and a new
   * Phone resumes it.
   */
  close() {
    this.#closed = true;
    this.#tabs.close();
    this.socket.dispose();
    this.media.dispose();
    this.auth.dispose?.();
    this.dispatchEvent(new CustomEvent('ring', { detail: null }));
  }

  signOut(message = '') {
    const wasSignedIn = this.state.signedIn;
    this.socket.stop();
    this.media.close();
    this.dispatchEvent(new CustomEvent('ring', { detail: null }));
    this.#session.remove(OWNER_KEY);
    this.auth.signOut();
    this.#known.clear();
    Object.assign(this.state, { signedIn: false, call: null, other: null, status: 'offline', reason: '', until: 0, muted: false, error: message });
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
    if (this.#closed) return; // removed while booting
    this.state.signedIn = true;
    const u = this.auth.user;
    if (u) this.state.agent = { ...this.state.agent, username: u.username || '', extension: u.extension || '', displayName: u.displayName || '' };
    this.state.error = '';
    this.state.recent = this.#recent.load();
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
      this.state.other = null;
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
    if (prev && JSON.stringify(call.consult || null) !== JSON.stringify(prev.consult || null) && call.state !== 'ended') this.#emit('call.consult', pub());
    if (prev && (call.recording || null) !== (prev.recording || null) && call.state !== 'ended') this.#emit('call.recording', pub());
    this.#known.set(call.id, call);

    if (call.state === 'ended') {
      this.#known.delete(call.id);
      if (prev) this.#ended(call);
      if (this.state.call?.id === call.id) {
        this.state.call = this.state.other;
        this.state.other = null;
        this.media.setMuted(false);
        this.state.muted = false;
      } else if (this.state.other?.id === call.id) {
        this.state.other = null;
      }
    } else if (!this.state.call || this.state.call.id === call.id) {
      if (this.state.call?.id !== call.id) this.state.dtmfLog = [];
      this.state.call = call;
    } else {
      this.state.other = call;
    }
    // The call shown is the one with the agent's attention: not the held one.
    const s = this.state;
    if (s.other && s.call?.state === 'held' && s.other.state === 'active') [s.call, s.other] = [s.other, s.call];
    const me = this.state.agent.extension;
    const ringing = s.call && isIncoming(s.call, me) ? s.call : s.other && isIncoming(s.other, me) ? s.other : null;
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
    this.state.recent = this.#recent.add(this.state.recent, call, endedAt, durationSeconds);
  }

  /** The real end of a call whose end we had to guess after a reconnect. */
  #correctEnd(c) {
    const list = this.#recent.correct(this.state.recent, c);
    if (!list) return;
    this.state.recent = list;
    this.#changed();
  }

  /** The call as the host page sees it (docs/widget-api.md, "Call"). */
  #public(c) { return publicCall(c, this.#callData.get(c.id)); }

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

  /** Attended transfer and conference: consult an extension or number first. */
  async consult(to, callId) {
    const dest = cleanNumber(to);
    if (!isDialable(dest)) throw fail('bad_params', 'Enter an extension or number to consult.');
    const id = callId || this.state.call?.id;
    await this.#callRequest('consult', id, { to: dest });
    this.#transfers.set(id, dest);
  }

  consultSwap(callId) { return this.#callRequest('consultSwap', callId); }
  consultComplete(callId) { return this.#callRequest('consultComplete', callId); }
  consultCancel(callId) { return this.#callRequest('consultCancel', callId); }
  conference(callId) { return this.#callRequest('conference', callId); }

  /** The agent's own call forwarding (rest.js). */
  getForwarding() { return this.#forwarding.get(); }
  setForwarding(rules) { return this.#forwarding.set(rules); }
  clearForwarding() { return this.#forwarding.clear(); }

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
      otherCall: s.other ? this.#public(s.other) : null,
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

  clearRecent() {
    this.state.recent = [];
    this.#recent.clear();
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
  #changed() {
    const c = this.state.call;
    this.media.expectAudio(c?.state === 'active');
    this.media.setSending(Boolean(c) && !(c.state === 'ringing' && isIncoming(c, this.state.agent.extension)));
    this.dispatchEvent(new Event('change'));
  }
}
