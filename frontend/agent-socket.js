// agent-socket.js: the /ws/agent client (docs/protocol.md, mirroring
// server/wsproto). It authenticates, matches replies to requests by id,
// pings, and reconnects with exponential backoff, resuming the session so a
// call survives a dropped connection. It knows nothing about the page.

export const PROTOCOL_VERSION = 1;
const REQUEST_TIMEOUT_MS = 20_000; // the server bounds a request at 15 s
const PING_EVERY_MS = 25_000;
const PING_TIMEOUT_MS = 20_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** A refused request: `code` is the protocol's error code (section 7). */
export class RequestError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/**
 * States, reported by the "state" event (detail: {state, ...}):
 *   idle        not started, or stopped
 *   connecting  first attempt
 *   open        authenticated; requests may be sent
 *   retrying    lost or never reached; detail {attempt, retryAt, reached}
 *   in-use      another tab holds the agent's session (error session_in_use)
 *   replaced    another tab or device took the session over (session_replaced)
 *   forbidden   the user may not take calls (close 4403)
 * Other events: "welcome" (detail {welcome, resumed}), "message" (detail:
 * every server event that is not a reply).
 */
export class AgentSocket extends EventTarget {
  #url;
  #auth;
  #ws = null;
  #state = 'idle';
  #attempt = 0;
  #retryTimer = 0;
  #pingTimer = 0;
  #pending = new Map();
  #nextId = 1;
  #sessionId = '';
  #takeover = false;
  #forceRefresh = false;
  #lastError = null;
  #lastRetry = { attempt: 0, reached: false, retryAt: 0 };
  #gen = 0; // bumped by start and stop, so a stale attempt gives up
  #listening = new AbortController(); // the window listeners, removed by dispose

  /**
   * @param {string} url the websocket URL
   * @param {{accessToken(force?: boolean): Promise<string>}} auth
   */
  constructor(url, auth) {
    super();
    this.#url = url;
    this.#auth = auth;
    // After a network change the old TCP connection is likely dead, but the
    // browser can take a minute to notice: reconnect (resuming) at once.
    const changed = () => {
      if (this.#state === 'retrying') this.retryNow();
      else if (this.#state === 'open') this.reconnect();
    };
    const signal = this.#listening.signal;
    addEventListener('online', changed, { signal });
    navigator.connection?.addEventListener?.('change', changed, { signal });
  }

  /** Stops the connection and forgets the window's network events (the element was removed). */
  dispose() {
    this.stop();
    this.#listening.abort();
  }

  get state() { return this.#state; }
  get sessionId() { return this.#sessionId; }

  /**
   * Opens the connection. takeover asks the server to move the agent's
   * session (and calls) here from another tab; fresh forgets the session
   * to resume (a new page has no PeerConnection to resume with).
   */
  start({ takeover = false, fresh = false } = {}) {
    this.#close(1000, 'restart');
    this.#gen++;
    if (fresh) this.#sessionId = '';
    this.#takeover = takeover;
    this.#attempt = 0;
    this.#connect();
  }

  stop() {
    this.#close(1000, 'signed out');
    this.#gen++;
    this.#sessionId = '';
    this.#setState('idle');
  }

  /** Drops the connection and resumes the session on a new one, now. */
  reconnect() {
    const ws = this.#ws;
    if (!ws || this.#state !== 'open') return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close(4000, 'reconnect');
    this.#teardown();
    this.#connect();
  }

  retryNow() {
    if (this.#state !== 'retrying') return;
    clearTimeout(this.#retryTimer);
    this.#connect();
  }

  /**
   * Sends a request with a fresh id; resolves with the reply carrying that
   * id (ack, or answer for an offer), rejects with a RequestError.
   * @param {object} msg
   * @param {number} [timeoutMs]
   * @returns {Promise<object>}
   */
  request(msg, timeoutMs = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const ws = this.#ws;
      if (!ws || this.#state !== 'open') return reject(new RequestError('not_connected', 'Not connected to the server.'));
      const id = String(this.#nextId++);
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestError('timeout', `No reply to ${msg.type}.`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /**
   * Whether the connection still carries a reply within ms: after a
   * network change a dead TCP connection can look open for a minute.
   */
  async probe(ms) {
    if (this.#state !== 'open') return false;
    try {
      await this.request({ type: 'ping' }, ms);
      return true;
    } catch {
      return false;
    }
  }

  async #connect() {
    const gen = this.#gen;
    clearTimeout(this.#retryTimer);
    if (this.#attempt === 0) this.#setState('connecting');
    else this.#setState('retrying', { ...this.#lastRetry, retryAt: 0 });
    let token;
    try {
      token = await this.#auth.accessToken(this.#forceRefresh);
      this.#forceRefresh = false;
    } catch (err) {
      if (err.code === 'unreachable') return this.#scheduleRetry(false);
      return this.#setState('idle', { error: err }); // the auth session reports the expiry
    }
    if (gen !== this.#gen || this.#ws) return;
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    let reached = false;
    ws.onopen = () => {
      reached = true;
      const auth = { type: 'auth', token };
      if (this.#sessionId) auth.resume = this.#sessionId;
      if (this.#takeover) auth.takeover = true;
      ws.send(JSON.stringify(auth));
    };
    ws.onmessage = (e) => {
      if (ws !== this.#ws) return;
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m && typeof m.type === 'string') this.#onMessage(m);
    };
    ws.onclose = (e) => { if (ws === this.#ws) this.#onClose(e, reached); };
  }

  #onMessage(m) {
    const p = m.id && this.#pending.get(m.id);
    if (p && m.type !== 'welcome') {
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.type === 'error') p.reject(new RequestError(m.code || 'internal', m.message));
      else p.resolve(m);
      return;
    }
    if (m.type === 'welcome') return this.#onWelcome(m.welcome || {});
    if (m.type === 'error' && !m.id) this.#lastError = m; // the close that follows says what to do
    this.dispatchEvent(new CustomEvent('message', { detail: m }));
  }

  #onWelcome(w) {
    const resumed = this.#sessionId !== '' && w.sessionId === this.#sessionId;
    this.#sessionId = w.sessionId || '';
    this.#takeover = false;
    this.#attempt = 0;
    this.#lastError = null;
    this.#setState('open');
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => this.#ping(), PING_EVERY_MS);
    this.dispatchEvent(new CustomEvent('welcome', { detail: { welcome: w, resumed } }));
  }

  #ping() {
    const ws = this.#ws;
    const timer = setTimeout(() => {
      // A dead TCP connection can take minutes to report its close.
      if (ws === this.#ws) { ws.close(4000, 'ping timeout'); this.#onClose({ code: 4000 }, true); }
    }, PING_TIMEOUT_MS);
    this.request({ type: 'ping' }).then(() => clearTimeout(timer), () => {});
  }

  #onClose(e, reached) {
    this.#teardown();
    const err = this.#lastError;
    this.#lastError = null;
    if (this.#state === 'idle') return;
    if (e.code === 4409 || err?.code === 'session_in_use' || err?.code === 'session_replaced') {
      this.#sessionId = '';
      const state = err?.code === 'session_in_use' ? 'in-use' : 'replaced';
      return this.#setState(state, { message: err?.message || '' });
    }
    if (e.code === 4403) return this.#setState('forbidden', { message: err?.message || 'This user may not take calls.' });
    // Deleted, disabled, changed or signed out everywhere: a refresh cannot
    // help, and the server's reason is the useful message.
    if (err?.code === 'revoked') return this.#auth.expire(`Signed out: ${err.message}`);
    if (e.code === 4401) this.#forceRefresh = true;
    this.#scheduleRetry(reached);
  }

  /** reached: the failed socket had opened (a drop), rather than never connecting (server unreachable). */
  #scheduleRetry(reached) {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#attempt);
    this.#attempt++;
    const delay = ceiling / 2 + Math.random() * ceiling / 2; // jitter: half to full ceiling
    this.#lastRetry = { attempt: this.#attempt, reached, retryAt: Date.now() + delay };
    this.#setState('retrying', this.#lastRetry);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #close(code, reason) {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pingTimer);
    const ws = this.#ws;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close(code, reason);
    }
    this.#teardown();
  }

  #teardown() {
    this.#ws = null;
    clearInterval(this.#pingTimer);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RequestError('not_connected', 'The connection was lost.'));
    }
    this.#pending.clear();
  }

  #setState(state, detail = {}) {
    this.#state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...detail } }));
  }
}
