// call-view.js: how the softphone reads a call the server sent, and the
// call as host pages see it (docs/widget-api.md, "Call").

import { RequestError } from './agent-socket.js';

const CALL_DATA_MAX = 8192; // bytes of JSON a host may attach to one call

/**
 * Whether a call rings for this agent to answer: an inbound call, the
 * callee's side of an internal call, or a click-to-call a CRM started over
 * REST (answering it dials out).
 */
export const isIncoming = (c, ext) => c.state === 'ringing' &&
  (c.direction === 'inbound' || c.origin === 'click_to_call' || (c.direction === 'internal' && c.from !== ext));

/** The call as the host page sees it, with the data it attached. */
export function publicCall(c, callData) {
  const k = c.consult;
  return {
    callId: c.id, direction: c.direction, origin: c.origin || null, state: c.state, number: c.remote || '', from: c.from || '', to: c.to || '',
    startedAt: c.startedAt || null, answeredAt: c.answeredAt || null, endedAt: c.endedAt || null, endReason: c.endReason || null,
    card: c.card || null, callData: callData || {}, remoteHeld: Boolean(c.remoteHeld), queue: c.queue || null,
    monitor: c.monitor || null, recording: c.recording || null,
    consult: k ? { by: k.by, target: k.target, state: k.state, talking: k.talking, conference: k.conference, internal: k.internal } : null,
  };
}

/** Validates data a host attaches to a call: an object, at most 8 KiB of JSON. */
export function checkCallData(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new RequestError('bad_params', 'callData must be an object.');
  const json = JSON.stringify(data);
  if (json.length > CALL_DATA_MAX) throw new RequestError('bad_params', `callData is over ${CALL_DATA_MAX} bytes.`);
  return JSON.parse(json);
}
