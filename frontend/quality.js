// quality.js: call quality in the widget (docs/quality.md). While a call
// is up it sends the browser's own figures for its audio — from
// RTCPeerConnection.getStats() — over the agent websocket ("stats",
// docs/protocol.md), and it shows the server's "quality" warnings: which
// side is bad, the agent's own network or the other party's line.

const STATS_EVERY_MS = 3000; // the server takes at most one a second

/**
 * The browser's figures for the session's audio: the inbound stream's
 * counters and jitter, and the round trip (from the remote-inbound-rtp
 * report when the browser has one, else the selected candidate pair).
 * @param {RTCPeerConnection} pc
 */
export async function audioStats(pc) {
  const report = await pc.getStats();
  let inbound = null;
  let rtt;
  let pairRtt;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && (s.kind === 'audio' || s.mediaType === 'audio')) inbound = s;
    if (s.type === 'remote-inbound-rtp' && (s.kind === 'audio' || s.mediaType === 'audio') && Number.isFinite(s.roundTripTime)) rtt = s.roundTripTime;
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && Number.isFinite(s.currentRoundTripTime)) pairRtt = s.currentRoundTripTime;
  });
  if (!inbound) return null;
  const stats = {
    packetsReceived: Math.max(0, Math.trunc(inbound.packetsReceived || 0)),
    packetsLost: Math.trunc(inbound.packetsLost || 0),
    jitter: Math.min(10, Math.max(0, inbound.jitter || 0)),
  };
  const roundTrip = rtt ?? pairRtt;
  if (Number.isFinite(roundTrip)) stats.roundTripTime = Math.min(60, Math.max(0, roundTrip));
  return stats;
}

/** The sentence a warning shows, or '' when there is nothing to say. */
export function warningText(q) {
  if (!q || q.level !== 'poor') return '';
  if (q.side === 'local') return 'Your network is poor: the caller may hear you badly. Check your connection.';
  const remoteSip = (q.legs || []).some((l) => l.kind === 'sip' && l.level === 'poor');
  return remoteSip
    ? 'The caller\'s line is poor: they may be hard to hear. It is not your network.'
    : 'The other party\'s network is poor: they may be hard to hear. It is not your network.';
}

/**
 * Sends statistics during calls and renders quality warnings into el.
 * Owns one timer and one listener; destroy() releases both.
 */
export class CallQuality {
  /** @type {any} */ current = null; // the last "quality" message of the current call
  sent = 0; // statistics the server accepted
  #socket;
  #media;
  #el;
  #callId;
  #timer = 0;
  #onMessage;

  /**
   * @param {import('./agent-socket.js').AgentSocket} socket
   * @param {import('./media.js').AgentMedia} media
   * @param {HTMLElement} el where the warning shows
   * @param {() => (string|undefined)} callId the call in progress (answered), if any
   */
  constructor(socket, media, el, callId) {
    this.#socket = socket;
    this.#media = media;
    this.#el = el;
    this.#callId = callId;
    this.#onMessage = (e) => {
      const m = e.detail;
      if (m?.type !== 'quality' || !m.quality) return;
      this.current = m.quality;
      this.render();
    };
    socket.addEventListener('message', this.#onMessage);
    this.#timer = setInterval(() => this.#report(), STATS_EVERY_MS);
  }

  async #report() {
    const pc = this.#media.pc;
    if (!this.#callId() || this.#socket.state !== 'open' || pc?.connectionState !== 'connected') return;
    try {
      const stats = await audioStats(pc);
      if (!stats) return;
      await this.#socket.request({ type: 'stats', stats });
      this.sent++;
    } catch {
      // A refused or lost report is only a missed sample; the next one follows.
    }
  }

  /** Shows the current call's warning, hiding any left from an earlier call. */
  render() {
    const q = this.current && this.current.callId === this.#callId() ? this.current : null;
    const text = warningText(q);
    this.#el.hidden = !text;
    this.#el.textContent = text;
    this.#el.dataset.level = q?.level || '';
    this.#el.dataset.side = q?.level === 'poor' ? q.side || '' : '';
    const legs = (q?.legs || []).map((l) => `${l.self ? 'you' : l.kind === 'sip' ? 'caller' : l.extension}: MOS ${l.mos}, loss ${l.lossPercent} %, jitter ${l.jitterMs} ms, round trip ${l.rttMs} ms`);
    this.#el.title = legs.join('\n');
  }

  destroy() {
    clearInterval(this.#timer);
    this.#socket.removeEventListener('message', this.#onMessage);
  }
}
