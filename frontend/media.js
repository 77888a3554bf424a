// media.js: the agent's audio. One RTCPeerConnection per session,
// negotiated once and reused for every call (docs/protocol.md section 9);
// later offers only restart ICE, after a network change or a lost path.
// Also the microphone (with honest errors), device selection and mute.

/** A call's audio silent this long (ms) may be a dead path: see expectAudio. */
const STALL_MS = 1000;

/**
 * Events: "statechange" (the PeerConnection's connectionState, or "none",
 * or `recovering` changed), "mic" (micState changed), "track" (remote
 * audio arrived), "pathlost" (the media path went disconnected or failed:
 * the websocket is likely dead too, so the phone reconnects it at once
 * instead of waiting ~45 s for its ping to time out), "stalled" (a call's
 * audio stopped arriving: see expectAudio).
 */
export class AgentMedia extends EventTarget {
  /** @type {MediaStream|null} */ mic = null;
  /** ok | denied | missing | insecure | error | unknown */ micState = 'unknown';
  micMessage = '';
  /** @type {RTCPeerConnection|null} */ pc = null;
  /** @type {RTCRtpTransceiver|null} */ transceiver = null;
  muted = false;
  #audio;
  #prefs;
  #signal = null;
  #negotiatingPc = null;
  #needOffer = false;
  #freshOffer = false; // the network changed since the pending offer was made
  #remoteCands = [];
  #unsentCands = [];
  #retryTimer = 0;
  #listening = new AbortController(); // the window listeners, removed by dispose
  #sending = false; // the microphone goes out only during calls
  #recovering = false;
  #watchTimer = 0;
  #lastInbound = { packets: -1, at: 0, stalled: false };

  /**
   * @param {HTMLAudioElement} audio plays the other party
   * @param {{input?: string, output?: string}} prefs chosen device ids
   */
  constructor(audio, prefs) {
    super();
    this.#audio = audio;
    this.#prefs = prefs;
    const restart = () => this.networkChanged();
    const signal = this.#listening.signal;
    addEventListener('online', restart, { signal });
    navigator.connection?.addEventListener?.('change', restart, { signal });
  }

  /** Closes everything and forgets the window's network events (the element was removed). */
  dispose() {
    this.close();
    this.#listening.abort();
  }

  get connectionState() { return this.pc?.connectionState ?? 'none'; }
  /**
   * Restarts ICE for a new network (the browser's online or connection
   * change events, or the phone's stall check).
   */
  networkChanged() {
    if (!this.pc || this.pc.connectionState === 'new') return;
    this.#freshOffer = true; // candidates of an offer still pending are stale now
    this.#setRecovering(true);
    this.negotiate(true);
  }

  /**
   * While on tells the media that the server should be sending audio (a
   * call is active): if none arrives for STALL_MS the media fires
   * "stalled", once per silence. When an address disappears under it,
   * Chromium keeps the PeerConnection "connected" for seconds and fires no
   * online event; a stall is the first sign. It can also be a far end
   * that sends nothing, so the phone checks the websocket before acting.
   */
  expectAudio(on) {
    if (!on) {
      clearInterval(this.#watchTimer);
      this.#watchTimer = 0;
      this.#lastInbound = { packets: -1, at: 0, stalled: false };
      return;
    }
    if (this.#watchTimer) return;
    this.#watchTimer = setInterval(() => this.#checkInbound(), 250);
  }

  async #checkInbound() {
    const pc = this.pc;
    if (!pc || pc.connectionState !== 'connected') return;
    let packets = 0;
    (await pc.getStats().catch(() => new Map())).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') packets = s.packetsReceived; });
    const w = this.#lastInbound;
    const now = Date.now();
    if (packets !== w.packets) {
      this.#lastInbound = { packets, at: now, stalled: false };
      return;
    }
    if (!w.stalled && now - w.at >= STALL_MS) {
      w.stalled = true;
      this.dispatchEvent(new Event('stalled'));
    }
  }

  /** True from a network change or a lost path until media is connected again. */
  get recovering() { return this.#recovering; }
  get remoteStream() { return /** @type {MediaStream|null} */ (this.#audio.srcObject); }

  /** Asks for the microphone; on failure records why and resolves null. */
  async openMic() {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      return this.#micFailed('insecure', 'The microphone needs a secure (https) page.');
    }
    const constraints = (id) => ({ audio: id ? { deviceId: { exact: id } } : true });
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints(this.#prefs.input));
    } catch (err) {
      if (this.#prefs.input && err?.name === 'OverconstrainedError') {
        // The chosen device is gone: fall back to the default one.
        try { stream = await navigator.mediaDevices.getUserMedia(constraints('')); } catch (err2) { err = err2; }
      }
      if (!stream) {
        if (err?.name === 'NotAllowedError' || err?.name === 'SecurityError') {
          return this.#micFailed('denied', 'Microphone blocked. Callers cannot hear you. Allow the microphone for this site in the browser, then try again.');
        }
        if (err?.name === 'NotFoundError' || err?.name === 'OverconstrainedError') {
          return this.#micFailed('missing', 'No microphone found. Plug one in, then try again.');
        }
        return this.#micFailed('error', `The microphone could not start (${err?.name || err}).`);
      }
    }
    const track = stream.getAudioTracks()[0];
    track.enabled = !this.muted;
    track.addEventListener('ended', () => {
      if (this.mic !== stream) return;
      this.#micFailed('missing', 'The microphone was disconnected. Plug it in or pick another one in Audio settings.');
    });
    this.mic?.getTracks().forEach((t) => t.stop());
    this.mic = stream;
    this.micState = 'ok';
    this.micMessage = '';
    this.dispatchEvent(new Event('mic'));
    // The transceiver is sendrecv, so a new track needs no renegotiation.
    if (this.#sending) await this.transceiver?.sender.replaceTrack(track).catch(() => {});
    return stream;
  }

  #micFailed(state, message) {
    this.micState = state;
    this.micMessage = message;
    this.dispatchEvent(new Event('mic'));
    return null;
  }

  /**
   * Creates the session's PeerConnection and sends its offer.
   * @param {(msg: object) => Promise<object>} signal sends a request, resolves with the reply
   * @param {RTCIceServer[]} iceServers
   */
  async start(signal, iceServers) {
    this.reset();
    this.#signal = signal;
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    const track = this.#sending ? this.mic?.getAudioTracks()[0] : undefined;
    // The microphone is sent only during calls (setSending): a signed-in
    // agent between calls costs the server no packets.
    this.transceiver = track
      ? pc.addTransceiver(track, { direction: 'sendrecv', streams: [this.mic] })
      : pc.addTransceiver('audio', { direction: 'sendrecv', streams: this.mic ? [this.mic] : [] });
    preferG711(this.transceiver);
    pc.ontrack = (e) => {
      this.#audio.srcObject = e.streams[0] || new MediaStream([e.track]);
      this.#audio.play().catch(() => {});
      this.dispatchEvent(new Event('track'));
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate?.candidate || pc !== this.pc) return;
      const c = e.candidate.toJSON();
      const candidate = { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment };
      this.#signal?.({ type: 'ice', candidate }).catch((err) => {
        // Lost with the socket: sent again once it is back. Other refusals
        // are harmless (an old ICE generation).
        if (err?.code === 'not_connected' && pc === this.pc) this.#unsentCands.push(candidate);
      });
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const st = pc.connectionState;
      if (st === 'connected') this.#recovering = false;
      if (st === 'failed' || st === 'disconnected') this.#recovering = true;
      this.dispatchEvent(new Event('statechange'));
      if (st === 'failed' || st === 'disconnected') {
        this.dispatchEvent(new Event('pathlost'));
        this.#freshOffer = true;
        this.negotiate(true);
      }
    };
    this.dispatchEvent(new Event('statechange'));
    await this.negotiate(false);
  }

  /**
   * Sends an offer: once per session, later only to restart ICE. Calls
   * never renegotiate.
   *
   * An offer refused only because the websocket was down (not_connected,
   * timeout) stays pending and is sent again as it stands, with the
   * candidates gathered since, once the socket is back (resumed). It is
   * never rolled back: after rolling back an ICE-restart offer Chromium
   * can report "connected" and send nothing at all. A new offer replaces
   * the pending one only after another network change.
   */
  async negotiate(iceRestart) {
    const pc = this.pc;
    if (!pc || !this.#signal) return;
    if (this.#negotiatingPc === pc) { this.#needOffer = true; return; }
    this.#negotiatingPc = pc;
    this.#needOffer = false;
    try {
      if (pc.signalingState !== 'have-local-offer' || this.#freshOffer) {
        this.#freshOffer = false;
        await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
      }
      const reply = await this.#signal({ type: 'offer', sdp: pc.localDescription.sdp });
      if (pc !== this.pc) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
      for (const c of this.#remoteCands.splice(0)) pc.addIceCandidate(c).catch(() => {});
      if (pc.connectionState === 'connected') this.#setRecovering(false); // a restart on a path that held
      for (const c of this.#unsentCands.splice(0)) this.#signal({ type: 'ice', candidate: c }).catch(() => {});
    } catch (err) {
      if (pc !== this.pc) return;
      this.#needOffer = true; // sent again after reconnecting, or below while media is down
      const transient = err?.code === 'not_connected' || err?.code === 'timeout';
      if (!transient && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
    } finally {
      if (this.#negotiatingPc === pc) this.#negotiatingPc = null;
    }
    const down = pc.connectionState !== 'connected' || pc.signalingState === 'have-local-offer';
    if (this.#needOffer && pc === this.pc && down) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => { if (pc === this.pc && this.#needOffer) this.negotiate(true); }, 3000);
    }
  }

  /** After the websocket resumed the same session: offer again if one is pending or media is not up. */
  resumed() {
    const pc = this.pc;
    if (!pc) return;
    if (this.#needOffer || pc.signalingState === 'have-local-offer' || pc.connectionState !== 'connected') {
      this.negotiate(Boolean(pc.remoteDescription));
      return;
    }
    for (const c of this.#unsentCands.splice(0)) this.#signal?.({ type: 'ice', candidate: c }).catch(() => {});
  }

  #setRecovering(on) {
    if (this.#recovering === on) return;
    this.#recovering = on;
    this.dispatchEvent(new Event('statechange'));
  }

  addRemoteCandidate(c) {
    const pc = this.pc;
    if (!pc) return;
    if (!pc.remoteDescription || this.#negotiatingPc === pc) { this.#remoteCands.push(c); return; }
    pc.addIceCandidate(c).catch(() => {});
  }

  /** Closes the PeerConnection (a new session needs a new one). */
  reset() {
    this.expectAudio(false);
    clearTimeout(this.#retryTimer);
    this.pc?.close();
    this.pc = null;
    this.transceiver = null;
    this.#negotiatingPc = null;
    this.#needOffer = false;
    this.#freshOffer = false;
    this.#recovering = false;
    this.#remoteCands = [];
    this.#unsentCands = [];
    this.#audio.srcObject = null;
    this.dispatchEvent(new Event('statechange'));
  }

  /** Releases the microphone too (sign-out). */
  close() {
    this.reset();
    this.mic?.getTracks().forEach((t) => t.stop());
    this.mic = null;
    this.micState = 'unknown';
  }

  /**
   * Sends the microphone (during a call) or nothing (between calls), on the
   * same transceiver: replacing the track needs no renegotiation.
   */
  setSending(on) {
    if (this.#sending === on) return;
    this.#sending = on;
    const track = on ? this.mic?.getAudioTracks()[0] ?? null : null;
    this.transceiver?.sender.replaceTrack(track).catch(() => {});
  }

  /** Mute is local: the track stops sending audio; the server is not told. */
  setMuted(on) {
    this.muted = on;
    for (const t of this.mic?.getAudioTracks() ?? []) t.enabled = !on;
  }

  async useInput(deviceId) {
    this.#prefs.input = deviceId;
    await this.openMic();
  }

  async useOutput(deviceId) {
    this.#prefs.output = deviceId;
    await setSink(this.#audio, deviceId);
  }

  /** Lists audio devices (labels appear once the microphone is allowed). */
  static async devices() {
    const all = (await navigator.mediaDevices?.enumerateDevices?.().catch(() => [])) ?? [];
    const pick = (kind) => all.filter((d) => d.kind === kind && d.deviceId && d.deviceId !== 'default' && d.deviceId !== 'communications');
    return { inputs: pick('audioinput'), outputs: pick('audiooutput') };
  }
}

/** Routes a media element to an output device where the browser allows it. */
export async function setSink(el, deviceId) {
  if (typeof el.setSinkId !== 'function') return false;
  try {
    await el.setSinkId(deviceId || '');
    return true;
  } catch {
    return false;
  }
}

// The server relays PCMU at 8 kHz and RFC 4733 telephone-events; offer them first.
function preferG711(transceiver) {
  const caps = window.RTCRtpReceiver?.getCapabilities?.('audio');
  if (!caps || !transceiver.setCodecPreferences) return;
  const rank = (c) => ['audio/pcmu', 'audio/pcma', 'audio/telephone-event'].indexOf(c.mimeType.toLowerCase());
  const codecs = caps.codecs.filter((c) => rank(c) >= 0 && c.clockRate === 8000).sort((a, b) => rank(a) - rank(b));
  if (codecs.length) transceiver.setCodecPreferences(codecs);
}
