// softphone-element.js: <rb-softphone>, the agent's softphone as a custom
// element. It renders the Phone's state (phone.js) and turns clicks and
// keys into Phone calls; server-provided text only ever goes in via
// textContent. The element works on its own page (index.html) and inside a
// CRM's iframe (widget.html, with embed.js).
//
// Attributes: tenant (prefills the sign-in form; changes are applied).
//
// Events: every widget event (docs/widget-api.md, "Events") is also
// dispatched on the element as a CustomEvent named "rb:" + the event name
// ("rb:call.incoming", "rb:call.ended", …) with the event's data as
// detail; they bubble and cross the shadow boundary.
//
// Lifecycle: removing the element releases its websocket, PeerConnection,
// microphone, timers and listeners (the server keeps the session for its
// grace period, so putting an element back resumes it, call included).

import { AuthSession, safeStorage } from './auth.js';
import { Phone, isIncoming } from './phone.js';
import { AgentMedia, setSink } from './media.js';
import { Ringer, RINGTONES } from './ringer.js';
import { template, FORWARD_KINDS } from './template.js';
import { CallQuality } from './quality.js';
import { renderCard, renderRecent, statusOptions, noticeFor } from './views.js';
import { clock, cleanNumber, endReasonText, secondsBetween } from './format.js';

const PREFS_KEY = 'rb.prefs';

export class RbSoftphoneElement extends HTMLElement {
  static define(tag = 'rb-softphone', registry = customElements) {
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }

  /** @type {Phone|null} */ phone = null;
  #ui = /** @type {Record<string, any>} */ ({});
  #ringer = null;
  #prefs;
  #local = safeStorage(() => localStorage);
  #tick = 0;
  #notification = null;
  #view = '';
  #deviceKey = '';
  /** The call-quality reporter and warning (quality.js). @type {CallQuality|null} */ quality = null;
  #listening = null; // AbortController of the document/device listeners
  #wired = false; // the shadow DOM's own listeners (they live as long as the element)

  static get observedAttributes() { return ['tenant']; }

  attributeChangedCallback(name, _old, value) {
    if (name === 'tenant' && value && !this.phone?.state.signedIn) this.#ui.tenantInput.value = value;
  }

  disconnectedCallback() {
    if (!this.phone) return;
    this.#listening?.abort();
    this.#listening = null;
    clearInterval(this.#tick);
    this.#tick = 0;
    this.#ringer?.stop();
    this.#notification?.close();
    this.#notification = null;
    this.quality?.destroy();
    this.quality = null;
    this.phone.close();
    this.phone = null;
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = template(new URL('./softphone.css', import.meta.url).href);
    for (const el of root.querySelectorAll('[id]')) this.#ui[el.id.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = el;
    try { this.#prefs = JSON.parse(this.#local.get(PREFS_KEY) || '{}') || {}; } catch { this.#prefs = {}; }
  }

  connectedCallback() {
    if (this.phone) return;
    this.#listening = new AbortController();
    const signal = this.#listening.signal;
    const ui = this.#ui;
    const tenant = this.getAttribute('tenant') || new URLSearchParams(location.search).get('tenant');
    if (tenant) ui.tenantInput.value = tenant;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.phone = new Phone({
      auth: new AuthSession(safeStorage(() => sessionStorage)),
      audio: ui.remoteAudio,
      prefs: this.#prefs,
      session: safeStorage(() => sessionStorage),
      local: this.#local,
      wsUrl: `${scheme}://${location.host}/ws/agent`,
    });
    this.#ringer = new Ringer(ui.ringAudio);
    this.#ringer.tone = this.#prefs.tone || 'classic';
    this.#ringer.device = this.#prefs.ring ?? this.#prefs.output ?? '';
    if (this.#prefs.output) setSink(ui.remoteAudio, this.#prefs.output);
    this.phone.addEventListener('change', () => this.render());
    this.phone.addEventListener('ring', (e) => this.#onRing(e.detail));
    this.phone.addEventListener('rb', (e) => this.dispatchEvent(new CustomEvent(`rb:${e.detail.event}`,
      { detail: e.detail.data, bubbles: true, composed: true })));
    this.phone.media.addEventListener('mic', () => this.#fillDevices());
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.#fillDevices(), { signal });
    if (!this.#wired) this.#wire();
    this.#wired = true;
    document.addEventListener('keydown', (e) => this.#onKey(e), { signal });
    this.quality = new CallQuality(this.phone.socket, this.phone.media, ui.callQuality, () => {
      const c = this.phone.state.call;
      return c && (c.state === 'active' || c.state === 'held') ? c.id : undefined;
    });
    this.phone.boot().then(() => this.render());
    this.render();
  }

  /** Runs a Phone action from a button, showing its failure. */
  #act(fn) {
    return async (ev) => {
      ev?.preventDefault?.();
      try {
        const pending = fn(ev); // reads the form before anything re-renders
        this.phone.clearError();
        await pending;
      } catch (err) {
        this.phone.state.error = err?.message || String(err);
        this.render();
      }
    };
  }

  #wire() {
    const ui = this.#ui;
    // The shadow DOM's listeners outlive a Phone (removing the element and
    // putting it back makes a new one): they always reach the current one.
    const p = new Proxy({}, {
      get: (_, k) => {
        const ph = this.phone;
        const v = ph?.[k];
        return typeof v === 'function' ? v.bind(ph) : v;
      },
    });
    const call = () => p.state.call;
    ui.loginForm.addEventListener('submit', this.#act(async () => {
      ui.loginButton.disabled = true;
      try {
        await p.signIn(ui.tenantInput.value.trim(), ui.loginInput.value.trim(), ui.passwordInput.value);
        ui.passwordInput.value = '';
      } finally {
        ui.loginButton.disabled = false;
      }
    }));
    ui.signoutButton.addEventListener('click', () => p.signOut());
    ui.retryNow.addEventListener('click', () => p.retryNow());
    ui.useHere.addEventListener('click', () => p.useHere());
    ui.micRetry.addEventListener('click', this.#act(() => p.retryMic()));
    ui.errorClose.addEventListener('click', () => p.clearError());
    ui.statusSelect.addEventListener('change', this.#act(() => {
      const [status, reason = ''] = ui.statusSelect.value.split(':');
      return p.setStatus(status, reason);
    }));
    ui.wrapupDone.addEventListener('click', this.#act(() => p.setStatus('available')));
    ui.dialForm.addEventListener('submit', this.#act(async () => {
      ui.remoteAudio.play().catch(() => {}); // a user gesture: later audio may autoplay
      await p.dial(ui.dialInput.value);
      ui.dialInput.value = '';
    }));
    ui.dialInput.addEventListener('paste', (e) => {
      const text = e.clipboardData?.getData('text') ?? '';
      e.preventDefault();
      ui.dialInput.setRangeText(cleanNumber(text), ui.dialInput.selectionStart ?? 0, ui.dialInput.selectionEnd ?? 0, 'end');
    });
    ui.dialer.querySelector('.keypad').addEventListener('click', (e) => {
      const d = e.target.closest('button[data-digit]')?.dataset.digit;
      if (d) { ui.dialInput.value += d; ui.dialInput.focus(); }
    });
    ui.dtmfPad.querySelector('.keypad').addEventListener('click', this.#act((e) => {
      const d = e.target.closest('button[data-digit]')?.dataset.digit;
      return d ? p.dtmf(d) : undefined;
    }));
    ui.answerButton.addEventListener('click', this.#act(() => {
      ui.remoteAudio.play().catch(() => {});
      return p.answer();
    }));
    ui.declineButton.addEventListener('click', this.#act(() => p.decline()));
    ui.hangupButton.addEventListener('click', this.#act(() => p.hangup()));
    ui.holdButton.addEventListener('click', this.#act(() => p.hold(call()?.state !== 'held')));
    ui.muteButton.addEventListener('click', this.#act(() => p.mute(!p.state.muted)));
    // Recording: start (on demand), pause for a card number, resume.
    ui.recordButton.addEventListener('click', this.#act(() => {
      const r = call()?.recording;
      return p.recording(r === 'available' ? 'start' : r === 'paused' ? 'resume' : 'pause');
    }));
    ui.padButton.addEventListener('click', () => this.#toggleTool('pad'));
    ui.xferButton.addEventListener('click', () => this.#toggleTool('xfer'));
    ui.transferForm.addEventListener('submit', this.#act(async () => {
      await p.transfer(ui.transferInput.value);
      ui.transferInput.value = '';
    }));
    ui.consultButton.addEventListener('click', this.#act(async () => {
      await p.consult(ui.transferInput.value);
      ui.transferInput.value = '';
      ui.transferForm.hidden = true;
    }));
    ui.waitingTake.addEventListener('click', this.#act(() => {
      const o = p.state.other;
      if (!o) return undefined;
      return o.state === 'held' ? p.hold(false, o.id) : p.answer(o.id);
    }));
    ui.waitingDecline.addEventListener('click', this.#act(() => (p.state.other ? p.decline(p.state.other.id) : undefined)));
    ui.forwarding.addEventListener('toggle', this.#act(async () => { if (ui.forwarding.open) this.#showForwarding(await p.getForwarding()); }));
    ui.fwdForm.addEventListener('submit', this.#act(async () => {
      const rules = { noAnswerSeconds: Number(ui.fwdSeconds.value) || 20 };
      for (const [k] of FORWARD_KINDS) {
        const to = cleanNumber(this.#fwd(k).to.value);
        if (!this.#fwd(k).on.checked) continue;
        if (!to) throw new Error('Enter where to forward to.');
        rules[k] = { kind: /^\+|^\d{7,}$/.test(to) ? 'number' : 'extension', target: to };
      }
      this.#showForwarding(await p.setForwarding(rules));
    }));
    ui.fwdClear.addEventListener('click', this.#act(async () => {
      await p.clearForwarding();
      this.#showForwarding({});
    }));
    ui.consultComplete.addEventListener('click', this.#act(() => p.consultComplete()));
    ui.consultSwap.addEventListener('click', this.#act(() => p.consultSwap()));
    ui.consultConference.addEventListener('click', this.#act(() => p.conference()));
    ui.consultCancel.addEventListener('click', this.#act(() => p.consultCancel()));
    ui.recentList.addEventListener('click', this.#act((e) => {
      const n = e.target.closest('button[data-number]')?.dataset.number;
      return n ? p.dial(n) : undefined;
    }));
    this.#wireSettings();
  }

  // Digits typed anywhere on the page (but not into a field) go to the
  // dialer, or as tones during a call.
  #onKey(e) {
    const ui = this.#ui;
    const t = /** @type {HTMLElement} */ (e.composedPath()[0]);
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || !/^[0-9*#]$/.test(e.key)) return;
    if (t?.matches?.('input, select, textarea, [contenteditable], [contenteditable] *') || !this.phone?.state.signedIn) return;
    if (this.#view === 'dialer') { ui.dialInput.value += e.key; ui.dialInput.focus(); e.preventDefault(); }
    if (this.#view === 'in-call') { this.#act(() => this.phone.dtmf(e.key))(); e.preventDefault(); }
  }

  #wireSettings() {
    const ui = this.#ui;
    const save = () => this.#local.set(PREFS_KEY, JSON.stringify(this.#prefs));
    ui.toneSelect.replaceChildren(...RINGTONES.map(([v, label]) => new Option(label, v, false, v === this.#ringer.tone)));
    ui.micSelect.addEventListener('change', this.#act(async () => { await this.phone.media.useInput(ui.micSelect.value); save(); }));
    ui.speakerSelect.addEventListener('change', this.#act(async () => {
      await this.phone.media.useOutput(ui.speakerSelect.value);
      if (this.#prefs.ring === undefined) this.#ringer.device = ui.speakerSelect.value;
      save();
    }));
    ui.ringSelect.addEventListener('change', () => {
      this.#prefs.ring = ui.ringSelect.value === 'same' ? undefined : ui.ringSelect.value;
      this.#ringer.device = this.#prefs.ring ?? this.#prefs.output ?? '';
      save();
    });
    ui.toneSelect.addEventListener('change', () => { this.#ringer.tone = this.#prefs.tone = ui.toneSelect.value; save(); });
    ui.ringTest.addEventListener('click', () => this.#ringer.test());
    ui.notifyButton.addEventListener('click', async () => {
      await Notification.requestPermission().catch(() => {});
      this.#renderNotify();
    });
    ui.settings.addEventListener('toggle', () => { if (ui.settings.open) this.#fillDevices(); });
    this.#renderNotify();
  }

  #fwd(k) {
    const ui = this.#ui;
    const id = k.replace(/^./, (c) => c.toUpperCase());
    return { on: ui[`fwd${id}`], to: ui[`fwd${id}To`] };
  }

  /** Shows the forwarding rules the server holds. */
  #showForwarding(f) {
    const on = [];
    for (const [k, label] of FORWARD_KINDS) {
      const d = f?.[k];
      this.#fwd(k).on.checked = Boolean(d);
      this.#fwd(k).to.value = d?.target || '';
      if (d) on.push(`${label.toLowerCase()} → ${d.target}`);
    }
    this.#ui.fwdSeconds.value = String(f?.noAnswerSeconds || 20);
    this.#ui.fwdSummary.textContent = on.length ? `· ${on.join(', ')}` : '· off';
  }

  #toggleTool(which) {
    const ui = this.#ui;
    const pad = which === 'pad' ? ui.dtmfPad.hidden : false;
    const xfer = which === 'xfer' ? ui.transferForm.hidden : false;
    ui.dtmfPad.hidden = !pad;
    ui.transferForm.hidden = !xfer;
    ui.callCard.hidden = pad || xfer;
    ui.padButton.setAttribute('aria-pressed', String(pad));
    ui.xferButton.setAttribute('aria-pressed', String(xfer));
    if (xfer) ui.transferInput.focus();
    if (pad) ui.dtmfPad.querySelector('button')?.focus();
  }

  async #fillDevices() {
    const ui = this.#ui;
    const { inputs, outputs } = await AgentMedia.devices();
    const key = JSON.stringify([inputs, outputs].map((l) => l.map((d) => d.deviceId + d.label)));
    if (key === this.#deviceKey) return;
    this.#deviceKey = key;
    const opts = (list, first) => [new Option(first, ''), ...list.map((d, i) => new Option(d.label || `Device ${i + 1}`, d.deviceId))];
    const canPickOutput = typeof ui.remoteAudio.setSinkId === 'function';
    const outs = canPickOutput ? outputs : [];
    ui.micSelect.replaceChildren(...opts(inputs, 'System default'));
    ui.speakerSelect.replaceChildren(...opts(outs, canPickOutput ? 'System default' : 'System default (this browser cannot choose)'));
    ui.ringSelect.replaceChildren(new Option('Same as speaker', 'same'), ...opts(outs, 'System default'));
    // A remembered device that is not plugged in shows as the default.
    ui.micSelect.value = this.#prefs.input || '';
    ui.speakerSelect.value = this.#prefs.output || '';
    ui.ringSelect.value = this.#prefs.ring ?? 'same';
    for (const sel of [ui.micSelect, ui.speakerSelect, ui.ringSelect]) if (sel.selectedIndex < 0) sel.selectedIndex = sel === ui.ringSelect ? 1 : 0;
  }

  #renderNotify() {
    const ui = this.#ui;
    if (!('Notification' in window)) {
      ui.notifyState.textContent = 'This browser cannot show notifications.';
      ui.notifyButton.hidden = true;
      return;
    }
    const perm = Notification.permission;
    ui.notifyState.textContent = perm === 'granted' ? 'A notification appears for incoming calls while this tab is hidden.'
      : perm === 'denied' ? 'Notifications are blocked for this site.' : '';
    ui.notifyButton.hidden = perm !== 'default';
  }

  #onRing(call) {
    if (!call) {
      this.#ringer.stop();
      this.#notification?.close();
      this.#notification = null;
      return;
    }
    if (!this.#ringer.ringing) this.#ringer.start();
    if (document.hidden && !this.#notification && window.Notification?.permission === 'granted') {
      const who = [call.card?.name, call.remote || call.from].filter(Boolean).join(' · ');
      try {
        this.#notification = new Notification('Incoming call', { body: who, tag: `rb-${call.id}`, requireInteraction: true });
        this.#notification.onclick = () => { window.focus(); this.#ui.answerButton.focus(); };
      } catch { /* not allowed here (some iframes) */ }
    }
  }

  render() {
    if (!this.phone) return; // removed meanwhile
    const s = this.phone.state;
    const ui = this.#ui;
    const media = this.phone.media;
    ui.loginForm.hidden = s.signedIn;
    ui.main.hidden = !s.signedIn;
    ui.signoutButton.hidden = !s.signedIn;
    ui.who.textContent = s.signedIn ? `${s.agent.displayName || s.agent.username || 'Agent'}${s.agent.extension ? ` · ${s.agent.extension}` : ''}` : 'ringbridge';

    // Connection and honest notices.
    const n = noticeFor(s, media);
    ui.connState.textContent = n.connText;
    ui.connState.dataset.state = n.conn;
    ui.connDot.dataset.state = n.conn;
    this.#notice(ui.noticeServer, ui.noticeServerText, n.server);
    this.#notice(ui.noticeReconnecting, ui.noticeReconnecting, n.reconnecting);
    this.#notice(ui.noticeTab, ui.noticeTabText, n.tab);
    this.#notice(ui.noticeMic, ui.noticeMicText, s.signedIn && media.micState !== 'ok' && media.micState !== 'unknown' ? media.micMessage : '');
    this.#notice(ui.noticeAudio, ui.noticeAudio, n.audio);
    this.#notice(ui.errorLine, ui.errorText, s.error || s.protocolWarning);

    // Status picker.
    const open = s.conn === 'open';
    const opts = statusOptions(s);
    const sig = JSON.stringify(opts);
    if (ui.statusSelect.dataset.sig !== sig) {
      ui.statusSelect.dataset.sig = sig;
      ui.statusSelect.replaceChildren(...opts.map(([v, label, disabled]) => Object.assign(new Option(label, v), { disabled })));
    }
    ui.statusSelect.value = s.status === 'away' ? `away:${s.awayReasons.length ? s.reason : ''}` : s.status;
    ui.statusSelect.disabled = !open || s.status === 'wrapup';
    ui.statusSelect.dataset.status = s.status;
    ui.wrapup.hidden = s.status !== 'wrapup';

    // The stage: one of the three panels.
    const c = s.call;
    this.quality?.render();
    const incoming = c && isIncoming(c, s.agent.extension);
    this.#setView(!c ? 'dialer' : incoming ? 'incoming' : 'in-call');
    ui.dialButton.disabled = !open;
    if (c) {
      const number = c.remote || c.from || '';
      ui.callerNumber.textContent = number;
      ui.incomingTitle.textContent = c.origin === 'click_to_call' ? 'Call requested from the CRM'
        : c.consult && c.consult.by !== s.agent.extension ? `Consultation from ${c.consult.by}` : c.direction === 'internal' ? 'Internal call' : 'Incoming call';
      ui.incomingQueue.hidden = !c.queue;
      ui.incomingQueue.textContent = c.queue ? `Queue: ${c.queue}` : '';
      ui.answerButton.textContent = c.origin === 'click_to_call' ? 'Call' : 'Answer';
      const noCard = c.direction === 'outbound' ? '' : undefined; // we called them: nothing to pop
      renderCard(ui.incomingCard, c.card, noCard);
      renderCard(ui.callCard, c.card, noCard);
      ui.callRemote.textContent = number;
      ui.callName.textContent = c.card?.name ? ` · ${c.card.name}` : '';
      ui.callState.textContent = c.monitor ? { listen: 'Listening in', whisper: 'Coaching the agent (the caller does not hear you)', barge: 'In the call (everyone hears you)' }[c.monitor] || c.monitor
        : c.remoteHeld && c.state === 'active' ? 'The caller put you on hold'
        : { dialing: 'Calling…', early: 'Ringing…', ringing: 'Ringing…', active: 'Connected', held: 'On hold' }[c.state] || c.state;
      const answered = c.state === 'active' || c.state === 'held';
      ui.holdButton.disabled = !answered || Boolean(c.monitor);
      ui.holdButton.textContent = c.state === 'held' ? 'Resume' : 'Hold';
      ui.holdButton.setAttribute('aria-pressed', String(c.state === 'held'));
      ui.muteButton.textContent = s.muted ? 'Unmute' : 'Mute';
      ui.muteButton.setAttribute('aria-pressed', String(s.muted));
      const o = s.other;
      ui.waitingBar.hidden = !o || incoming;
      if (o) {
        const num = o.remote || o.from || '';
        const ringing = o.state === 'ringing';
        ui.waitingText.textContent = ringing ? `Call waiting: ${num}${o.card?.name ? ` · ${o.card.name}` : ''}` : `On hold: ${num}`;
        ui.waitingTake.textContent = ringing ? 'Answer (holds this call)' : 'Resume (holds this call)';
        ui.waitingDecline.hidden = !ringing;
      }
      const k = c.consult && c.consult.by === s.agent.extension ? c.consult : null;
      ui.xferButton.disabled = !answered || Boolean(k) || Boolean(c.monitor);
      ui.padButton.disabled = Boolean(c.monitor);
      ui.consultBar.hidden = !k;
      if (k) {
        const who = k.target;
        ui.consultText.textContent = k.conference ? `Conference with ${who} and the caller`
          : k.state !== 'active' ? `Calling ${who}… the caller hears music`
            : k.talking ? `Talking to ${who}; the caller hears music` : `Back with the caller; ${who} hears music`;
        const up = k.state === 'active';
        ui.consultComplete.disabled = !up;
        ui.consultSwap.disabled = !up || k.conference;
        ui.consultConference.disabled = !up || k.conference;
        ui.consultCancel.hidden = k.conference;
        ui.holdButton.disabled = true;
      }
      ui.recordButton.hidden = !c.recording;
      // Short labels: five buttons share a 320 px row.
      ui.recordButton.textContent = { available: 'Record', recording: 'Rec ❚❚', paused: 'Rec ▶' }[c.recording] || 'Record';
      ui.recordButton.setAttribute('aria-label', { available: 'Start recording', recording: 'Pause the recording', paused: 'Resume the recording' }[c.recording] || 'Record');
      ui.recordButton.setAttribute('aria-pressed', String(c.recording === 'paused'));
      ui.recordButton.dataset.recording = c.recording || '';
      ui.hangupButton.textContent = answered ? 'Hang up' : 'Cancel';
      ui.dtmfLog.textContent = s.dtmfLog.join(' ');
    }
    this.#renderTimer();
    clearInterval(this.#tick);
    if (s.signedIn) this.#tick = setInterval(() => this.#renderTimer(), 1000);

    ui.recentEmpty.hidden = s.recent.length > 0;
    renderRecent(ui.recentList, s.recent, Boolean(c) || !open, endReasonText);
    if (!this.closest('[data-no-title]') && window.top === window) {
      document.title = incoming ? `Incoming call: ${c.remote || c.from}` : c ? `On a call · ringbridge` : 'ringbridge softphone';
    }
  }

  #renderTimer() {
    if (!this.phone) return;
    const s = this.phone.state;
    const c = s.call;
    const ui = this.#ui;
    if (c) ui.callTimer.textContent = clock(secondsBetween(c.answeredAt || c.startedAt));
    ui.statusSince.textContent = s.statusSince && s.status !== 'offline' ? clock(secondsBetween(new Date(s.statusSince).toISOString())) : '';
    if (s.status === 'wrapup') {
      const left = s.until ? Math.max(0, Math.ceil((s.until - Date.now()) / 1000)) : 0;
      ui.wrapupText.textContent = s.until ? `${clock(left)} left` : '';
    }
    if (s.conn === 'retrying') {
      const n = noticeFor(s, this.phone.media);
      if (n.server) ui.noticeServerText.textContent = n.server;
    }
  }

  #setView(view) {
    if (view === this.#view) return;
    const ui = this.#ui;
    const hadFocus = ui.stage.contains(this.shadowRoot.activeElement);
    this.#view = view;
    ui.stage.dataset.view = view;
    for (const [name, el] of [['dialer', ui.dialer], ['incoming', ui.incoming], ['in-call', ui.inCall]]) el.inert = name !== view;
    if (view !== 'in-call') { ui.dtmfPad.hidden = true; ui.transferForm.hidden = true; ui.callCard.hidden = false; }
    // Move focus only when it was already in the phone: inside a CRM the
    // agent may be typing in the CRM, and a call must not steal the keys.
    if (hadFocus || (this.shadowRoot.activeElement && document.hasFocus())) {
      ({ dialer: ui.dialInput, incoming: ui.answerButton, 'in-call': ui.hangupButton })[view]?.focus();
    }
  }

  #notice(p, textEl, text) {
    p.hidden = !text;
    if (textEl.textContent !== (text || '')) textEl.textContent = text || '';
  }
}
