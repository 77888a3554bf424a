// softphone.js: the minimal ringbridge agent softphone.
//
// It speaks the /ws/agent protocol of docs/protocol.md (server/wsproto):
// sign in over REST, authenticate the websocket, then negotiate ONE
// RTCPeerConnection per session and reuse it for every call. The websocket
// reconnects with backoff and resumes the session, so a call survives a
// dropped connection. Server-provided text is only ever set as textContent.

const PROTOCOL_VERSION = 1;
const REFRESH_MARGIN_MS = 60_000; // refresh the access token this long before expiry
const REQUEST_TIMEOUT_MS = 20_000; // the server bounds a request at 15 s
const PING_EVERY_MS = 25_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

const $ = (id) => document.getElementById(id);
const ui = Object.fromEntries([
  'conn-state', 'error-line', 'login-form', 'tenant-input', 'login-input', 'password-input',
  'login-button', 'phone', 'who', 'signout-button', 'media-state', 'mic-note', 'mic-text',
  'mic-retry', 'status-form', 'status-select', 'reason-wrap', 'status-reason', 'incoming',
  'caller-number', 'answer-button', 'decline-button', 'in-call', 'call-state', 'call-remote',
  'call-timer', 'hold-button', 'hangup-button', 'dial-form', 'dial-input', 'dial-button',
  'keypad', 'dtmf-log', 'recent-list', 'remote-audio',
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]));

const st = {
  tenant: '', auth: null, refreshTimer: 0, refreshing: null, forceRefresh: false,
  ws: null, ready: false, stopped: true, attempt: 0, retryTimer: 0, pingTimer: 0,
  sessionId: '', extension: '', nextId: 1, pending: new Map(),
  micPromise: null, mic: null, pc: null, transceiver: null, negotiatingPc: null,
  needOffer: false, remoteCands: [], localCands: [],
  call: null, callStart: 0, tickTimer: 0, recent: new Map(),
};

// ---- status line and errors ----

// state: connecting | connected | reconnecting | signed out
function setConn(state) { ui.connState.textContent = state; ui.connState.dataset.state = state; }

function showError(err) {
  const text = typeof err === 'string' ? err : err.code ? `${err.code}: ${err.message}` : err.message;
  ui.errorLine.textContent = text;
  ui.errorLine.hidden = false;
}

const clearError = () => { ui.errorLine.textContent = ''; ui.errorLine.hidden = true; };

// ---- REST sign-in and token refresh ----

async function postJSON(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(data?.detail || data?.title || `HTTP ${res.status}`), { status: res.status });
  return data;
}

function keepTokens(t) {
  const { accessToken, refreshToken } = t;
  st.auth = { accessToken, refreshToken, expiresAt: Date.now() + t.expiresIn * 1000 };
  clearTimeout(st.refreshTimer);
  const wait = Math.max(5_000, t.expiresIn * 1000 - REFRESH_MARGIN_MS);
  st.refreshTimer = setTimeout(() => refresh().catch(onRefreshFailed), wait);
}

// The refresh token is single-use, so two refreshes must never overlap.
function refresh() {
  st.refreshing ??= postJSON('/api/v1/auth/refresh', { tenant: st.tenant, refreshToken: st.auth.refreshToken })
    .then((t) => { if (!st.stopped) keepTokens(t); })
    .finally(() => { st.refreshing = null; });
  return st.refreshing;
}

// 400/401/403 mean the refresh token is spent or revoked; anything else is transient.
const isAuthFailure = (err) => [400, 401, 403].includes(err.status);

function onRefreshFailed(err) {
  if (st.stopped) return;
  if (isAuthFailure(err)) return signOut(`Signed out: ${err.message}`);
  st.refreshTimer = setTimeout(() => refresh().catch(onRefreshFailed), 10_000); // network trouble: try again
}

async function signIn(ev) {
  ev.preventDefault();
  clearError();
  ui.loginButton.disabled = true;
  const tenant = ui.tenantInput.value.trim();
  try {
    const login = ui.loginInput.value.trim();
    const t = await postJSON('/api/v1/auth/login', { tenant, login, password: ui.passwordInput.value });
    st.tenant = tenant;
    keepTokens(t);
    ui.passwordInput.value = '';
    [ui.loginForm.hidden, ui.phone.hidden] = [true, false];
    ui.who.textContent = t.user?.displayName || t.user?.username || '';
    Object.assign(st, { stopped: false, attempt: 0, sessionId: '' });
    st.micPromise = getMic();
    connect();
  } catch (err) {
    showError(err);
  } finally {
    ui.loginButton.disabled = false;
  }
}

function signOut(message) {
  st.stopped = true;
  [st.retryTimer, st.refreshTimer, st.pingTimer].forEach(clearTimeout);
  const ws = st.ws;
  Object.assign(st, { ws: null, ready: false });
  ws?.close(1000, 'signed out');
  resetPeer();
  st.mic?.getTracks().forEach((t) => t.stop());
  Object.assign(st, { mic: null, micPromise: null, auth: null, sessionId: '', call: null });
  renderCall();
  [ui.loginForm.hidden, ui.phone.hidden] = [false, true];
  setConn('signed out');
  if (message) showError(message);
}

// ---- websocket ----

function connect() {
  clearTimeout(st.retryTimer);
  setConn(st.attempt ? 'reconnecting' : 'connecting');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/agent`);
  st.ws = ws;
  ws.onopen = () => {
    const auth = { type: 'auth', token: st.auth.accessToken };
    if (st.sessionId) auth.resume = st.sessionId;
    ws.send(JSON.stringify(auth));
  };
  ws.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    if (ws === st.ws && m && typeof m.type === 'string') onMessage(m);
  };
  ws.onclose = (e) => onClose(ws, e);
}

function onClose(ws, e) {
  if (ws !== st.ws) return;
  st.ws = null;
  st.ready = false;
  clearInterval(st.pingTimer);
  for (const p of st.pending.values()) { clearTimeout(p.timer); p.reject(new Error('connection lost')); }
  st.pending.clear();
  if (st.stopped) return;
  if (e.code === 4403) return signOut(`Signed out: ${ui.errorLine.textContent || 'not allowed to take calls'}`);
  if (e.code === 4409) return signOut('Signed out: this agent signed in elsewhere.');
  if (e.code === 4401) st.forceRefresh = true;
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** st.attempt);
  st.attempt++;
  const delay = ceiling / 2 + Math.random() * ceiling / 2; // jitter: half to full ceiling
  setConn('reconnecting');
  st.retryTimer = setTimeout(async () => {
    try {
      if (st.forceRefresh || st.auth.expiresAt - Date.now() < REFRESH_MARGIN_MS) {
        await refresh();
        st.forceRefresh = false;
      }
    } catch (err) {
      if (isAuthFailure(err)) return signOut(`Signed out: ${err.message}`);
    }
    if (!st.stopped) connect();
  }, delay);
}

// request sends a message with a fresh id and resolves with the reply that
// carries the id (ack, or answer for an offer); an error reply rejects.
function request(msg) {
  return new Promise((resolve, reject) => {
    if (!st.ws || !st.ready) return reject(new Error('not connected'));
    const id = String(st.nextId++);
    const timer = setTimeout(() => { st.pending.delete(id); reject(new Error(`no reply to ${msg.type}`)); }, REQUEST_TIMEOUT_MS);
    st.pending.set(id, { resolve, reject, timer });
    st.ws.send(JSON.stringify({ ...msg, id }));
  });
}

function onMessage(m) {
  const p = m.id && st.pending.get(m.id);
  if (p) {
    st.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.type === 'error') p.reject(Object.assign(new Error(m.message || m.code), { code: m.code }));
    else p.resolve(m);
    return;
  }
  switch (m.type) {
    case 'welcome': onWelcome(m.welcome || {}).catch(showError); return;
    case 'ice': if (m.candidate) addRemoteCandidate(m.candidate); return;
    case 'call': if (m.call) onCall(m.call); return;
    case 'dtmf': return logDigit(`received ${m.digits}`);
    case 'status': return showStatus(m.status, m.reason);
    case 'error': return onSessionError(m);
    default: // unknown types are ignored: new types are additive
  }
}

function onSessionError(m) {
  if (m.code === 'session_replaced') return signOut('Signed out: this agent signed in elsewhere.');
  if (m.code === 'unauthorized') st.forceRefresh = true; // the server closes with 4401 next
  showError({ code: m.code, message: m.message || '' });
}

async function onWelcome(w) {
  st.ready = true;
  st.attempt = 0;
  setConn('connected');
  if (w.version !== PROTOCOL_VERSION) showError(`Server protocol version ${w.version}; this page speaks ${PROTOCOL_VERSION}.`);
  const resumed = st.sessionId !== '' && w.sessionId === st.sessionId;
  st.sessionId = w.sessionId;
  st.extension = w.extension;
  ui.who.textContent = `${w.username} · ext ${w.extension}`;
  showStatus(w.status);
  clearInterval(st.pingTimer);
  st.pingTimer = setInterval(ping, PING_EVERY_MS);

  const live = new Set((w.calls || []).map((c) => c.id));
  if (st.call && !live.has(st.call.id)) onCall({ ...st.call, state: 'ended', endReason: '' }); // ended while away
  for (const c of w.calls || []) onCall(c);

  if (resumed && st.pc) {
    // Same session, same server-side PeerConnection: keep ours. Offer again
    // only if media is not up (server candidates sent while we were away are lost).
    if (st.pc.connectionState === 'connected' && !st.needOffer) {
      for (const c of st.localCands.splice(0)) sendCandidate(c);
    } else {
      st.localCands = [];
      await negotiate(Boolean(st.pc.remoteDescription));
    }
    return;
  }
  resetPeer(); // a new session has a new server-side PeerConnection
  await startPeer(w.sessionId, w.iceServers || []);
}

function ping() {
  const ws = st.ws;
  request({ type: 'ping' }).catch(() => {
    if (ws !== st.ws) return;
    ws.close(4000, 'ping timeout');
    onClose(ws, { code: 4000 }); // a dead TCP connection can take minutes to report its close
  });
}

// ---- microphone and the session's PeerConnection ----

async function getMic() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    ui.micNote.hidden = true;
    return stream;
  } catch (err) {
    const why = err?.name === 'NotAllowedError' ? 'Microphone permission was denied'
      : !window.isSecureContext ? 'The microphone needs https (or localhost)' : `No microphone (${err?.name || err})`;
    ui.micText.textContent = `${why}. You can still take calls and hear the caller, but they will not hear you.`;
    ui.micNote.hidden = false;
    return null;
  }
}

async function retryMic() {
  const stream = await getMic();
  if (!stream) return;
  st.mic?.getTracks().forEach((t) => t.stop());
  st.mic = stream;
  st.micPromise = Promise.resolve(stream);
  // The transceiver is sendrecv, so swapping the track needs no renegotiation.
  await st.transceiver?.sender.replaceTrack(stream.getAudioTracks()[0]).catch(showError);
}

async function startPeer(sessionId, iceServers) {
  st.mic = await st.micPromise;
  if (st.stopped || sessionId !== st.sessionId || st.pc) return;
  const pc = new RTCPeerConnection({ iceServers });
  st.pc = pc;
  const track = st.mic?.getAudioTracks()[0];
  st.transceiver = track
    ? pc.addTransceiver(track, { direction: 'sendrecv', streams: [st.mic] })
    : pc.addTransceiver('audio', { direction: 'sendrecv' }); // receives now; a mic can be added later
  preferG711(st.transceiver);
  pc.ontrack = (e) => {
    ui.remoteAudio.srcObject = e.streams[0] || new MediaStream([e.track]);
    ui.remoteAudio.play().catch(() => {});
  };
  pc.onicecandidate = (e) => { if (e.candidate?.candidate) sendCandidate(e.candidate.toJSON()); };
  pc.onconnectionstatechange = () => {
    if (pc !== st.pc) return;
    ui.mediaState.textContent = pc.connectionState;
    if (pc.connectionState === 'failed' || pc.connectionState === 'disconnected') negotiate(true);
  };
  await negotiate(false);
}

// The server relays PCMU at 8 kHz and RFC 4733 telephone-events; offer them first.
function preferG711(transceiver) {
  const caps = window.RTCRtpReceiver?.getCapabilities?.('audio');
  if (!caps || !transceiver.setCodecPreferences) return;
  const rank = (c) => ['audio/pcmu', 'audio/pcma', 'audio/telephone-event'].indexOf(c.mimeType.toLowerCase());
  const codecs = caps.codecs.filter((c) => rank(c) >= 0 && c.clockRate === 8000).sort((a, b) => rank(a) - rank(b));
  if (codecs.length) transceiver.setCodecPreferences(codecs);
}

// negotiate sends the session's offer: once after welcome, later only for an
// ICE restart. Calls never renegotiate.
async function negotiate(iceRestart) {
  const pc = st.pc;
  if (!pc || !st.ready || st.negotiatingPc === pc) { st.needOffer = true; return; }
  st.negotiatingPc = pc;
  st.needOffer = false;
  try {
    await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
    const reply = await request({ type: 'offer', sdp: pc.localDescription.sdp });
    if (pc !== st.pc) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    for (const c of st.remoteCands.splice(0)) pc.addIceCandidate(c).catch((e) => console.warn('remote ICE', e));
  } catch (err) {
    if (pc !== st.pc) return;
    st.needOffer = true; // offered again after the next welcome
    if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
    if (st.ready) showError(err);
  } finally {
    if (st.negotiatingPc === pc) st.negotiatingPc = null;
  }
  // A restart asked for while this offer was in flight, or a failed one
  // while media is still down: try again, at a gentle pace.
  const down = pc.connectionState === 'failed' || pc.connectionState === 'disconnected';
  if (st.needOffer && st.ready && pc === st.pc && down) setTimeout(() => { if (pc === st.pc && st.needOffer) negotiate(true); }, 3000);
}

function sendCandidate(c) {
  if (!st.ready) { st.localCands.push(c); return; }
  const candidate = { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment };
  request({ type: 'ice', candidate }).catch((e) => console.warn('ICE candidate not accepted', e));
}

function addRemoteCandidate(c) {
  const pc = st.pc;
  if (!pc) return;
  if (!pc.remoteDescription || st.negotiatingPc === pc) { st.remoteCands.push(c); return; }
  pc.addIceCandidate(c).catch((e) => console.warn('remote ICE', e));
}

function resetPeer() {
  st.pc?.close();
  Object.assign(st, { pc: null, transceiver: null, negotiatingPc: null, needOffer: false, remoteCands: [], localCands: [] });
  ui.remoteAudio.srcObject = null;
  ui.mediaState.textContent = 'new';
}

// ---- calls ----

const isIncoming = (c) => c.state === 'ringing' &&
  (c.direction === 'inbound' || (c.direction === 'internal' && c.from !== st.extension));

function onCall(c) {
  if (c.state === 'ended' || st.recent.has(c.id)) {
    if (c.state === 'ended') addRecent(c);
    if (st.call?.id === c.id) st.call = null;
  } else {
    if (st.call?.id !== c.id) { st.callStart = 0; ui.dtmfLog.replaceChildren(); }
    st.call = c;
    if ((c.state === 'active' || c.state === 'held') && !st.callStart) st.callStart = Date.now();
  }
  renderCall();
}

function addRecent(c) {
  let li = st.recent.get(c.id);
  if (!li) {
    li = document.createElement('li');
    st.recent.set(c.id, li);
    ui.recentList.prepend(li);
    while (ui.recentList.children.length > 10) {
      const last = ui.recentList.lastElementChild;
      for (const [id, el] of st.recent) if (el === last) st.recent.delete(id);
      last.remove();
    }
  }
  if (!c.endReason && li.textContent) return; // keep the reason we already know
  const secs = st.call?.id === c.id && st.callStart ? Math.round((Date.now() - st.callStart) / 1000) : 0;
  li.textContent = `${c.direction} ${c.remote || c.from || '?'} · ${c.endReason || 'ended while disconnected'}${secs ? ` · ${clock(secs)}` : ''}`;
}

function clock(secs) { return `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`; }

function renderCall() {
  const c = st.call;
  const ringing = Boolean(c && isIncoming(c));
  ui.incoming.hidden = !ringing;
  ui.inCall.hidden = !c || ringing;
  ui.dialButton.disabled = Boolean(c);
  document.title = ringing ? `Incoming call: ${c.remote || c.from}` : 'ringbridge softphone';
  if (c) {
    ui.callerNumber.textContent = c.remote || c.from;
    ui.callState.textContent = c.state;
    ui.callRemote.textContent = c.remote;
    ui.holdButton.textContent = c.state === 'held' ? 'Resume' : 'Hold';
    ui.holdButton.disabled = c.state !== 'active' && c.state !== 'held';
  }
  clearInterval(st.tickTimer);
  const tick = () => { ui.callTimer.textContent = clock(st.callStart ? Math.floor((Date.now() - st.callStart) / 1000) : 0); };
  tick();
  if (c && st.callStart) st.tickTimer = setInterval(tick, 1000);
}

function callRequest(type) {
  const c = st.call;
  if (c) request({ type, callId: c.id }).catch(showError);
}

function dial(ev) {
  ev.preventDefault();
  const to = ui.dialInput.value.trim();
  if (!to || st.call) return;
  clearError();
  ui.remoteAudio.play().catch(() => {}); // a user gesture, so later audio may autoplay
  // The ack carries the new call; a call event may already have told us more.
  request({ type: 'dial', to }).then((r) => { if (r.call && !st.call) onCall(r.call); }).catch(showError);
}

function pressKey(ev) {
  const digit = ev.target.closest('button[data-digit]')?.dataset.digit;
  if (!digit) return;
  const c = st.call;
  if (!c || c.state === 'ringing') { ui.dialInput.value += digit; return; }
  request({ type: 'dtmf', callId: c.id, digits: digit }).then(() => logDigit(`sent ${digit}`)).catch(showError);
}

function logDigit(text) {
  const li = document.createElement('li');
  li.textContent = text;
  ui.dtmfLog.append(li);
  while (ui.dtmfLog.children.length > 20) ui.dtmfLog.firstElementChild.remove();
}

// ---- agent status ----

function showStatus(status, reason) {
  if (status !== 'available' && status !== 'away') return;
  ui.statusSelect.value = status;
  if (reason !== undefined) ui.statusReason.value = reason || '';
  ui.reasonWrap.hidden = status !== 'away';
}

function sendStatus(ev) {
  ev?.preventDefault();
  const status = ui.statusSelect.value;
  const reason = ui.statusReason.value.trim();
  ui.reasonWrap.hidden = status !== 'away';
  const msg = { type: 'status', status };
  if (status === 'away' && reason) msg.reason = reason;
  request(msg).catch(showError);
}

// ---- wiring ----

ui.loginForm.addEventListener('submit', signIn);
ui.signoutButton.addEventListener('click', () => signOut());
ui.micRetry.addEventListener('click', retryMic);
ui.statusForm.addEventListener('submit', sendStatus);
ui.statusSelect.addEventListener('change', () => sendStatus());
ui.answerButton.addEventListener('click', () => { ui.remoteAudio.play().catch(() => {}); callRequest('answer'); });
ui.declineButton.addEventListener('click', () => callRequest('reject'));
ui.hangupButton.addEventListener('click', () => callRequest('hangup'));
ui.holdButton.addEventListener('click', () => callRequest(st.call?.state === 'held' ? 'unhold' : 'hold'));
ui.dialForm.addEventListener('submit', dial);
ui.keypad.addEventListener('click', pressKey);
