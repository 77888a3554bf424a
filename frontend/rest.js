// rest.js: the softphone's few REST calls (the agent's own settings that
// live outside the websocket), with the errors shaped like the widget's
// (docs/widget-api.md, "Errors").

import { RequestError } from './agent-socket.js';

const CODES = { 400: 'bad_params', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict' };

/**
 * The agent's call forwarding (/api/v1/agents/{ext}/forwarding): rules
 * {unconditional, busy, noAnswer, noAnswerSeconds, offline}, each rule
 * {kind: "extension" | "number", target}.
 */
export class ForwardingAPI {
  #auth;
  #ext;

  /**
   * @param {{accessToken(): Promise<string>}} auth
   * @param {() => string} ext the signed-in agent's extension ("" when none)
   */
  constructor(auth, ext) {
    this.#auth = auth;
    this.#ext = ext;
  }

  get() { return this.#call('GET'); }
  /** Replaces the rules; a loop is refused naming the circle. */
  set(rules) { return this.#call('PUT', rules); }
  clear() { return this.#call('DELETE'); }

  async #call(method, body) {
    const ext = this.#ext();
    if (!ext) throw new RequestError('not_connected', 'Sign in first.');
    const token = await this.#auth.accessToken();
    const r = await fetch(`/api/v1/agents/${encodeURIComponent(ext)}/forwarding`, {
      method, cache: 'no-store',
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (r.status === 204) return null;
    const data = await r.json().catch(() => null);
    if (!r.ok) throw new RequestError(CODES[r.status] || 'unavailable', data?.detail || data?.title || `HTTP ${r.status}`);
    return data;
  }
}
