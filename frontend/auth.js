// auth.js: the agent's tokens (docs/protocol.md section 2, "Obtaining a
// token"). Signs in over REST, refreshes before expiry, and keeps the
// tokens in sessionStorage, so a reload of the tab, or a CRM re-creating
// the widget's iframe, signs back in without asking for the password.
// sessionStorage belongs to one tab (and, inside a CRM, to that CRM's
// partition), so other tabs do not share it.

import { jwtPayload } from './format.js';

const STORAGE_KEY = 'rb.auth';
const REFRESH_MARGIN_MS = 60_000; // refresh this long before the access token expires

/** An error with the HTTP status (0 when the server could not be reached). */
export class AuthError extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
    this.code = status === 0 ? 'unreachable' : status === 401 || status === 403 || status === 400 ? 'unauthorized' : 'server_error';
  }
}

async function postJSON(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new AuthError('Cannot reach the ringbridge server.', 0);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new AuthError(data?.detail || data?.title || `HTTP ${res.status}`, res.status);
  return data;
}

/** A Storage that never throws (storage can be disabled, e.g. in some iframes). */
export function safeStorage(get) {
  let s = null;
  try { s = get(); s?.getItem('x'); } catch { s = null; }
  const mem = new Map();
  return {
    get: (k) => { try { return s ? s.getItem(k) : mem.get(k) ?? null; } catch { return null; } },
    set: (k, v) => { try { s ? s.setItem(k, v) : mem.set(k, v); } catch { /* full or disabled */ } },
    remove: (k) => { try { s ? s.removeItem(k) : mem.delete(k); } catch { /* disabled */ } },
  };
}

/**
 * Events: "changed" (tokens stored or dropped), "expired" (the session
 * cannot be renewed: sign in again), "tokenrequired" (a token handed in by
 * the host page without a refresh token is about to expire).
 */
export class AuthSession extends EventTarget {
  #store;
  #refreshing = null;
  #timer = 0;
  /** @type {{tenant:string, accessToken:string, refreshToken:string, expiresAt:number, user:object|null}|null} */
  tokens = null;

  constructor(store) {
    super();
    this.#store = store;
  }

  get signedIn() { return this.tokens !== null; }
  get tenant() { return this.tokens?.tenant ?? ''; }
  get user() { return this.tokens?.user ?? null; }

  /** Picks up the tokens a previous page of this tab kept. */
  restore() {
    let t = null;
    try { t = JSON.parse(this.#store.get(STORAGE_KEY) || 'null'); } catch { t = null; }
    if (!t?.accessToken || (!t.refreshToken && t.expiresAt < Date.now())) {
      this.#store.remove(STORAGE_KEY);
      return false;
    }
    this.#set(t);
    return true;
  }

  async login(tenant, login, password) {
    const t = await postJSON('/api/v1/auth/login', { tenant, login, password });
    this.#keep(tenant, t);
    return this.tokens.user;
  }

  /**
   * Uses tokens the host page obtained (docs/widget-api.md, "signIn").
   * @param {{tenant?:string, accessToken:string, refreshToken?:string, expiresIn?:number}} t
   */
  adopt(t) {
    const exp = jwtPayload(t.accessToken)?.exp;
    const expiresIn = Number(t.expiresIn) > 0 ? Number(t.expiresIn) : exp ? exp - Date.now() / 1000 : 300;
    this.#keep(t.tenant || '', { accessToken: t.accessToken, refreshToken: t.refreshToken || '', expiresIn, user: null });
  }

  /** Remembers the user details the websocket's welcome told us. */
  setUser(user) {
    if (!this.tokens) return;
    this.tokens.user = { ...(this.tokens.user || {}), ...user };
    this.#save();
  }

  /**
   * A current access token, refreshed first when it is near expiry or when
   * force is set (the server refused it).
   * @returns {Promise<string>}
   */
  async accessToken(force = false) {
    const t = this.tokens;
    if (!t) throw new AuthError('Signed out.', 401);
    if (!force && t.expiresAt - Date.now() > REFRESH_MARGIN_MS / 2) return t.accessToken;
    if (!t.refreshToken) {
      if (!force && t.expiresAt > Date.now()) return t.accessToken;
      this.#expire('Your sign-in expired.');
      throw new AuthError('Your sign-in expired.', 401);
    }
    await this.refresh();
    return this.tokens.accessToken;
  }

  /** The refresh token is single-use, so two refreshes never overlap. */
  refresh() {
    const t = this.tokens;
    this.#refreshing ??= postJSON('/api/v1/auth/refresh', { tenant: t.tenant, refreshToken: t.refreshToken })
      .then((n) => { if (this.tokens === t) this.#keep(t.tenant, { ...n, user: n.user || t.user }); })
      .catch((err) => {
        if (err.code === 'unauthorized' && this.tokens === t) this.#expire(`Signed out: ${err.message}`);
        throw err;
      })
      .finally(() => { this.#refreshing = null; });
    return this.#refreshing;
  }

  signOut() {
    clearTimeout(this.#timer);
    // Revoke the refresh token server-side too (its whole family), so a
    // copy left in storage or a log is worthless. Best effort: signing out
    // locally must not wait for, or fail with, the network.
    const t = this.tokens;
    if (t?.refreshToken) postJSON('/api/v1/auth/logout', { tenant: t.tenant, refreshToken: t.refreshToken }).catch(() => {});
    this.tokens = null;
    this.#store.remove(STORAGE_KEY);
    this.dispatchEvent(new Event('changed'));
  }

  #keep(tenant, t) {
    this.#set({
      tenant,
      accessToken: t.accessToken,
      refreshToken: t.refreshToken || '',
      expiresAt: Date.now() + t.expiresIn * 1000,
      user: t.user || null,
    });
  }

  #set(t) {
    this.tokens = t;
    this.#save();
    clearTimeout(this.#timer);
    const wait = Math.max(5_000, t.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    this.#timer = setTimeout(() => this.#onTimer(t), wait);
    this.dispatchEvent(new Event('changed'));
  }

  #onTimer(t) {
    if (this.tokens !== t) return;
    if (!t.refreshToken) {
      this.dispatchEvent(new Event('tokenrequired'));
      return;
    }
    this.refresh().catch((err) => {
      // Network trouble: try again soon; a refused token already expired us.
      if (err.code !== 'unauthorized' && this.tokens === t) this.#timer = setTimeout(() => this.#onTimer(t), 10_000);
    });
  }

  /** Stops refreshing (the element was removed); the stored tokens stay for the next page. */
  dispose() {
    clearTimeout(this.#timer);
    this.#timer = 0;
  }

  /** Ends the session because the server revoked it; "expired" tells the UI why. */
  expire(message) { this.#expire(message); }

  #expire(message) {
    this.signOut();
    this.dispatchEvent(new CustomEvent('expired', { detail: { message } }));
  }

  #save() {
    if (this.tokens) this.#store.set(STORAGE_KEY, JSON.stringify(this.tokens));
  }
}
