// format.js: small pure helpers shared by the softphone modules.

/**
 * Normalises what an agent typed or pasted into something the server's
 * `dial` accepts: a leading +, digits, * and #. Spaces, dashes, dots and
 * brackets are dropped; so is anything else ("tel:" prefixes, letters), so
 * pasting "Tel: +1 (555) 010-4477" yields "+15550104477".
 * @param {string} text
 * @returns {string}
 */
export function cleanNumber(text) {
  const s = String(text ?? '').trim().replace(/^tel:/i, '');
  const plus = /^[^0-9*#]*\+/.test(s); // "+1 555", "(+36) 1": the plus before the first digit
  const body = s.replace(/[^0-9*#]/g, '');
  return (plus ? '+' : '') + body;
}

/** @param {string} text @returns {boolean} a dialable number or extension */
export function isDialable(text) {
  return /^\+?[0-9*#]{1,32}$/.test(text);
}

/** DTMF digits the server accepts. @param {string} s */
export function isDTMF(s) {
  return /^[0-9*#A-D]{1,32}$/.test(s);
}

/** m:ss or h:mm:ss. @param {number} secs */
export function clock(secs) {
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Whole seconds between two RFC 3339 times (or now), never negative.
 * @param {string|undefined} from @param {string|number|undefined} [to]
 */
export function secondsBetween(from, to) {
  const a = Date.parse(from ?? '');
  if (Number.isNaN(a)) return 0;
  const b = typeof to === 'number' ? to : to ? Date.parse(to) : Date.now();
  return Number.isNaN(b) ? 0 : Math.max(0, Math.round((b - a) / 1000));
}

/**
 * Only http(s) links from the server may become hrefs: a "javascript:"
 * URL in a screen-pop card would run in the widget's origin.
 * @param {unknown} url @returns {string} the URL, or "" when unsafe
 */
export function safeHttpUrl(url) {
  if (typeof url !== 'string' || !url) return '';
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '';
  } catch {
    return '';
  }
}

/** Human text for a call's end reason (docs/protocol.md section 6). */
export const endReasonText = {
  local_hangup: 'You hung up',
  remote_hangup: 'They hung up',
  cancelled: 'Caller gave up',
  rejected: 'Declined',
  busy: 'Busy',
  no_answer: 'No answer',
  unavailable: 'Unreachable',
  failed: 'Failed',
  media_timeout: 'Audio lost',
  shutdown: 'Server restarted',
  agent_gone: 'Disconnected',
  transferred: 'Transferred',
  unknown: 'Ended while offline',
};

/** "lunch" → "Lunch", "training_session" → "Training session". */
export function reasonLabel(reason) {
  const s = String(reason ?? '').replace(/[_-]+/g, ' ').trim();
  return s ? s[0].toUpperCase() + s.slice(1) : '';
}

/** The payload of a JWT, or null. Only used to learn a handed-in token's expiry. */
export function jwtPayload(token) {
  try {
    const part = String(token).split('.')[1];
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(json);
  } catch {
    return null;
  }
}
