// template.js: the markup of <rb-softphone>. Static: nothing from the
// server is ever part of it; the element fills text in with textContent.
//
// The "stage" stacks the dialer, the incoming-call panel and the in-call
// panel in one grid cell, so its height is that of the tallest panel and
// nothing moves when a call arrives.

const keys = [['1', ''], ['2', 'ABC'], ['3', 'DEF'], ['4', 'GHI'], ['5', 'JKL'], ['6', 'MNO'],
  ['7', 'PQRS'], ['8', 'TUV'], ['9', 'WXYZ'], ['*', ''], ['0', '+'], ['#', '']];
const keyName = (k) => (k === '*' ? 'star' : k === '#' ? 'hash' : k);
const keypad = (prefix, label) => `
  <div class="keypad" role="group" aria-label="${label}" data-testid="${prefix}keypad">
    ${keys.map(([k, sub]) => `<button type="button" data-digit="${k}" data-testid="${prefix}key-${keyName(k)}" aria-label="${k}">${k}<small aria-hidden="true">${sub}</small></button>`).join('')}
  </div>`;

/** The forwarding rules the agent can set, in order (cti.Forwarding). */
export const FORWARD_KINDS = [['unconditional', 'Always'], ['busy', 'When I am on a call'], ['noAnswer', 'When I do not answer'], ['offline', 'When I am signed out']];

export const template = (cssHref) => `
<link rel="stylesheet" href="${cssHref}">
<div class="phone" part="phone">
  <header class="bar">
    <span class="conn-dot" id="conn-dot" aria-hidden="true"></span>
    <span class="who" id="who" data-testid="who">ringbridge</span>
    <span class="conn" id="conn-state" data-testid="conn-state" role="status">signed out</span>
    <button type="button" id="signout-button" data-testid="signout-button" class="link" hidden>Sign out</button>
  </header>

  <div class="notices">
    <p class="notice error" id="notice-server" data-testid="notice-server" role="alert" hidden>
      <span id="notice-server-text" data-testid="notice-server-text"></span>
      <button type="button" id="retry-now" data-testid="retry-now">Retry now</button></p>
    <p class="notice warn" id="notice-reconnecting" data-testid="notice-reconnecting" role="status" hidden></p>
    <p class="notice warn" id="notice-tab" data-testid="notice-tab" role="alert" hidden>
      <span id="notice-tab-text" data-testid="notice-tab-text"></span>
      <button type="button" id="use-here" data-testid="use-here">Use here</button></p>
    <p class="notice warn" id="notice-mic" data-testid="notice-mic" role="alert" hidden>
      <span id="notice-mic-text" data-testid="mic-text"></span>
      <button type="button" id="mic-retry" data-testid="mic-retry">Try again</button></p>
    <p class="notice warn" id="notice-audio" data-testid="notice-audio" role="status" hidden></p>
    <p class="notice error" id="error-line" data-testid="error-line" role="alert" hidden>
      <span id="error-text" data-testid="error-text"></span>
      <button type="button" class="link" id="error-close" aria-label="Dismiss">×</button></p>
  </div>

  <form id="login-form" data-testid="login-form" class="card login" autocomplete="on">
    <h1>Sign in to take calls</h1>
    <label for="tenant-input">Company</label>
    <input id="tenant-input" data-testid="tenant-input" name="tenant" value="demo" required autocomplete="organization">
    <label for="login-input">Username or extension</label>
    <input id="login-input" data-testid="login-input" name="login" required autocomplete="username" autocapitalize="none" spellcheck="false">
    <label for="password-input">Password</label>
    <input id="password-input" data-testid="password-input" name="password" type="password" required autocomplete="current-password">
    <button id="login-button" data-testid="login-button" type="submit" class="go wide">Sign in</button>
  </form>

  <div id="main" data-testid="phone" hidden>
    <section class="status-row" aria-label="Your status">
      <label for="status-select" class="sr-only">Status</label>
      <select id="status-select" data-testid="status-select"></select>
      <span id="status-since" class="muted" data-testid="status-since" role="timer" aria-live="off" title="Time in this status"></span>
      <span id="wrapup" class="wrapup" data-testid="wrapup" hidden>
        <span id="wrapup-text" data-testid="wrapup-text" role="timer" aria-live="off"></span>
        <button type="button" id="wrapup-done" data-testid="wrapup-done" class="small">Ready</button>
      </span>
    </section>

    <div class="stage" id="stage">
      <section id="dialer" data-testid="dialer" class="panel" aria-label="Dialer">
        <form id="dial-form" data-testid="dial-form" class="dial-row">
          <label for="dial-input" class="sr-only">Number or extension</label>
          <input id="dial-input" data-testid="dial-input" inputmode="tel" autocomplete="off" placeholder="Number or extension" enterkeyhint="go">
          <button id="dial-button" data-testid="dial-button" type="submit" class="go">Call</button>
        </form>
        ${keypad('', 'Dial pad')}
      </section>

      <section id="incoming" data-testid="incoming" class="panel incoming" aria-labelledby="incoming-title">
        <h2 id="incoming-title" class="eyebrow">Incoming call</h2>
        <p id="incoming-queue" class="muted" data-testid="incoming-queue" hidden></p>
        <p class="number" id="caller-number" data-testid="caller-number"></p>
        <div class="card-pop" id="incoming-card" data-testid="incoming-card"></div>
        <p class="actions">
          <button id="answer-button" data-testid="answer-button" type="button" class="go big">Answer</button>
          <button id="decline-button" data-testid="decline-button" type="button" class="stop big">Decline</button>
        </p>
      </section>

      <section id="in-call" data-testid="in-call" class="panel" aria-labelledby="call-remote">
        <p class="call-head">
          <span class="number" id="call-remote" data-testid="call-remote"></span>
          <span class="timer" id="call-timer" data-testid="call-timer" role="timer" aria-label="Call duration">0:00</span>
        </p>
        <p class="muted"><span id="call-state" data-testid="call-state"></span><span id="call-name" data-testid="call-name"></span></p>
        <p id="call-quality" data-testid="call-quality" class="quality-warning" role="status" aria-live="polite" hidden></p>
        <div id="waiting-bar" data-testid="waiting-bar" class="consult" hidden>
          <p id="waiting-text" data-testid="waiting-text" aria-live="assertive"></p>
          <p class="actions">
            <button type="button" id="waiting-take" data-testid="waiting-take" class="go"></button>
            <button type="button" id="waiting-decline" data-testid="waiting-decline" class="stop">Decline</button>
          </p>
        </div>
        <div class="call-body">
          <div class="card-pop" id="call-card" data-testid="call-card"></div>
          <div id="dtmf-pad" hidden>${keypad('dtmf-', 'Send tones')}
            <p class="dtmf-log" id="dtmf-log" data-testid="dtmf-log" aria-live="polite"></p></div>
          <form id="transfer-form" data-testid="transfer-form" class="dial-row" hidden>
            <label for="transfer-input" class="sr-only">Transfer to extension or number</label>
            <input id="transfer-input" data-testid="transfer-input" inputmode="tel" autocomplete="off" placeholder="Transfer to ext. or number">
            <button type="submit" id="transfer-button" data-testid="transfer-button" class="go" title="Blind transfer: the call leaves you now">Transfer</button>
            <button type="button" id="consult-button" data-testid="consult-button" title="Talk to them first; the caller hears music">Consult</button>
          </form>
          <div id="consult-bar" data-testid="consult-bar" class="consult" hidden>
            <p id="consult-text" data-testid="consult-text" aria-live="polite"></p>
            <p class="actions">
              <button type="button" id="consult-complete" data-testid="consult-complete" class="go">Complete transfer</button>
              <button type="button" id="consult-swap" data-testid="consult-swap">Swap</button>
              <button type="button" id="consult-conference" data-testid="consult-conference">Conference</button>
              <button type="button" id="consult-cancel" data-testid="consult-cancel" class="stop">Cancel</button>
            </p>
          </div>
        </div>
        <p class="actions controls">
          <button type="button" id="mute-button" data-testid="mute-button" aria-pressed="false">Mute</button>
          <button type="button" id="hold-button" data-testid="hold-button" aria-pressed="false">Hold</button>
          <button type="button" id="pad-button" data-testid="pad-button" aria-pressed="false" aria-controls="dtmf-pad">Keypad</button>
          <button type="button" id="xfer-button" data-testid="xfer-button" aria-pressed="false" aria-controls="transfer-form">Transfer</button>
          <button type="button" id="record-button" data-testid="record-button" aria-pressed="false" hidden>Record</button>
        </p>
        <p class="actions"><button id="hangup-button" data-testid="hangup-button" type="button" class="stop big wide">Hang up</button></p>
      </section>
    </div>

    <section class="recent" aria-labelledby="recent-title">
      <h2 id="recent-title" class="eyebrow">Recent calls</h2>
      <p class="muted" id="recent-empty">No calls yet.</p>
      <ol id="recent-list" data-testid="recent-list"></ol>
    </section>

    <details class="settings" id="forwarding" data-testid="forwarding">
      <summary>Call forwarding <span id="fwd-summary" data-testid="fwd-summary" class="muted"></span></summary>
      <form id="fwd-form" data-testid="fwd-form">
        <div id="fwd-rows">${FORWARD_KINDS.map(([k, label]) => `
          <p class="fwd-row"><label><input type="checkbox" id="fwd-${k}" data-testid="fwd-${k}"> ${label}</label>
            <input id="fwd-${k}-to" data-testid="fwd-${k}-to" inputmode="tel" autocomplete="off" placeholder="to ext. or number" aria-label="${label}: forward to"></p>`).join('')}</div>
        <label for="fwd-seconds">Ring me this long first (seconds)</label>
        <input id="fwd-seconds" data-testid="fwd-seconds" type="number" min="5" max="120" value="20">
        <p class="actions">
          <button type="submit" id="fwd-save" data-testid="fwd-save" class="go">Save</button>
          <button type="button" id="fwd-clear" data-testid="fwd-clear">Turn off</button>
        </p>
      </form>
    </details>

    <details class="settings" id="settings">
      <summary>Audio and notifications</summary>
      <label for="mic-select">Microphone</label>
      <select id="mic-select" data-testid="mic-select"></select>
      <label for="speaker-select">Speaker (call audio)</label>
      <select id="speaker-select" data-testid="speaker-select"></select>
      <label for="ring-select">Ring on</label>
      <select id="ring-select" data-testid="ring-select"></select>
      <label for="tone-select">Ringtone</label>
      <span class="dial-row"><select id="tone-select" data-testid="tone-select"></select>
        <button type="button" id="ring-test" data-testid="ring-test">Test</button></span>
      <p class="muted" id="notify-state"></p>
      <button type="button" id="notify-button" data-testid="notify-button" hidden>Show a notification for calls when this tab is hidden</button>
    </details>
  </div>

  <audio id="remote-audio" data-testid="remote-audio" autoplay></audio>
  <audio id="ring-audio" data-testid="ring-audio"></audio>
</div>`;
