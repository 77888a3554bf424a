// views.js: the pieces of <rb-softphone> that turn state into DOM or text.
// Everything from the server goes in through textContent or a checked href.

import { clock, reasonLabel, safeHttpUrl } from './format.js';

const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
};

/**
 * The screen-pop card: who is calling, from the CRM (docs/protocol.md,
 * call.card). The link opens the record in the CRM, http(s) only.
 * @param {HTMLElement} box @param {any} card @param {string} [emptyText] shown without a card
 */
export function renderCard(box, card, emptyText = 'No customer record for this number.') {
  const sig = JSON.stringify([card ?? null, emptyText]);
  if (box.dataset.sig === sig) return;
  box.dataset.sig = sig;
  if (!card || typeof card !== 'object') {
    box.replaceChildren(...(emptyText ? [el('p', { class: 'muted', text: emptyText })] : []));
    return;
  }
  const parts = [];
  if (card.name) parts.push(el('p', { class: 'card-name', 'data-testid': 'card-name', text: String(card.name) }));
  if (card.company || card.tier) {
    const line = el('p', { class: 'card-company', 'data-testid': 'card-company', text: String(card.company || '') });
    if (card.tier) line.append(' ', el('span', { class: 'tier', text: String(card.tier) }));
    parts.push(line);
  }
  if (card.notes) parts.push(el('p', { class: 'card-notes', 'data-testid': 'card-notes', text: String(card.notes) }));
  const fields = card.fields && typeof card.fields === 'object' ? Object.entries(card.fields).slice(0, 8) : [];
  if (fields.length) {
    parts.push(el('dl', { class: 'card-fields' }, ...fields.flatMap(([k, v]) => [el('dt', { text: String(k) }), el('dd', { text: String(v) })])));
  }
  const href = safeHttpUrl(card.url);
  if (href) parts.push(el('p', {}, el('a', { href, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'card-link', text: 'Open in CRM' })));
  box.replaceChildren(...parts);
}

const dirLabel = { inbound: 'Incoming', outbound: 'Outgoing', internal: 'Internal' };
const dirIcon = { inbound: '↙', outbound: '↗', internal: '↔' };

/**
 * Recent calls, each with a one-click "Call" back.
 * @param {HTMLOListElement} list @param {any[]} recent @param {boolean} disabled
 * @param {Record<string,string>} reasons
 */
export function renderRecent(list, recent, disabled, reasons) {
  const sig = JSON.stringify([recent.map((r) => r.id), disabled]);
  if (list.dataset.sig === sig) return;
  list.dataset.sig = sig;
  list.replaceChildren(...recent.map((r) => {
    const missed = !r.durationSeconds && r.direction !== 'outbound';
    const meta = [r.durationSeconds ? clock(r.durationSeconds) : '', reasons[r.endReason] || r.endReason || '']
      .filter(Boolean).join(' · ');
    const btn = el('button', { type: 'button', class: 'small', 'data-number': r.number, 'aria-label': `Call ${r.name || r.number} back` }, 'Call');
    btn.disabled = disabled || !r.number;
    return el('li', { class: missed ? 'missed' : '' },
      el('span', { class: 'r-dir', title: dirLabel[r.direction] || '', 'aria-label': dirLabel[r.direction] || '' }, dirIcon[r.direction] || '•'),
      el('span', { class: 'r-who' }, el('span', { class: 'r-name', text: r.name || r.number || 'Unknown' }),
        el('small', { text: `${r.name ? `${r.number} · ` : ''}${meta}` })),
      btn);
  }));
}

/**
 * The status picker's options as [value, label, disabled]: available, away
 * with each of the tenant's reason codes, and the current status if it is
 * one the agent cannot pick (wrap-up, offline).
 */
export function statusOptions(s) {
  const opts = [['available', 'Available', false]];
  const reasons = s.awayReasons.length ? s.awayReasons : [''];
  for (const r of reasons) opts.push([`away:${r}`, r ? `Away · ${reasonLabel(r)}` : 'Away', false]);
  if (s.status === 'away' && !reasons.includes(s.awayReasons.length ? s.reason : '')) {
    opts.push([`away:${s.reason}`, s.reason ? `Away · ${reasonLabel(s.reason)}` : 'Away', false]);
  }
  if (s.status === 'wrapup') opts.push(['wrapup', 'Wrap-up', true]);
  if (!['available', 'away', 'wrapup'].includes(s.status)) opts.push([s.status, s.status === 'offline' ? 'Offline' : reasonLabel(s.status), true]);
  return opts;
}

/**
 * What the connection line and the notices say. Honest: every state the
 * agent cannot take calls in has a sentence saying so and what happens next.
 */
export function noticeFor(s, media) {
  const out = { conn: 'off', connText: 'signed out', server: '', reconnecting: '', tab: '', audio: '' };
  if (!s.signedIn) return out;
  const d = s.connDetail || {};
  const onCall = Boolean(s.call);
  switch (s.conn) {
    case 'open':
      Object.assign(out, { conn: 'open', connText: 'online' });
      break;
    case 'connecting':
      Object.assign(out, { conn: 'wait', connText: 'connecting…' });
      break;
    case 'retrying': {
      const secs = d.retryAt ? Math.max(0, Math.ceil((d.retryAt - Date.now()) / 1000)) : 0;
      const when = secs > 0 ? `Trying again in ${secs} s.` : 'Trying again now…';
      if (d.reached) {
        Object.assign(out, { conn: 'wait', connText: 'reconnecting…' });
        out.reconnecting = `Connection lost. Reconnecting…${onCall ? ' Your call continues.' : ''}`;
      } else {
        Object.assign(out, { conn: 'down', connText: 'offline' });
        out.server = `Can't reach the ringbridge server. ${when}${onCall ? ' Your call continues while the audio path holds.' : ''}`;
      }
      break;
    }
    case 'in-use':
      Object.assign(out, { conn: 'blocked', connText: 'not active' });
      out.tab = 'The softphone is open in another tab. Calls ring there.';
      break;
    case 'replaced':
      Object.assign(out, { conn: 'blocked', connText: 'not active' });
      out.tab = 'The softphone is now in use in another tab or window.';
      break;
    default:
      Object.assign(out, { conn: 'wait', connText: 'starting…' });
  }
  if (s.draining && s.conn === 'open') {
    out.server = `The server is restarting. ${onCall ? 'Your call continues; ' : ''}new calls wait until it is back.`;
  }
  const pc = media.connectionState;
  const answered = s.call && (s.call.state === 'active' || s.call.state === 'held' || s.call.state === 'early');
  if (media.recovering || (s.conn === 'open' && (pc === 'failed' || pc === 'disconnected'))) {
    out.audio = `Network changed. Reconnecting the audio…${onCall ? ' Your call continues.' : ''}`;
  } else if (s.conn === 'open' && answered && pc !== 'connected') {
    out.audio = 'Connecting audio…';
  }
  return out;
}
