// tabs.js: which tab holds the agent's phone, as far as this browser can
// tell.

/**
 * Asks the other tabs of this browser (same origin, same partition) whether
 * one of them holds the agent's session right now. Used after a reload to
 * tell "I am the tab that had it" from "I am a duplicate of that tab".
 */
export class TabPresence {
  #ch = null;
  #key;
  /**
   * @param {() => string} key the agent (tenant/user) this tab signs in as
   * @param {() => boolean} live whether this tab holds the session now
   */
  constructor(key, live) {
    this.#key = key;
    try { this.#ch = new BroadcastChannel('rb-softphone'); } catch { return; }
    this.#ch.onmessage = (e) => {
      if (e.data?.q === 'who' && e.data.key === key() && live()) this.#ch.postMessage({ a: 'here', key: e.data.key });
    };
  }

  /** Stops answering other tabs (the softphone was removed from the page). */
  close() {
    this.#ch?.close();
    this.#ch = null;
  }

  heldElsewhere(waitMs = 300) {
    const ch = this.#ch;
    if (!ch) return Promise.resolve(false);
    return new Promise((resolve) => {
      const key = this.#key();
      const own = new BroadcastChannel('rb-softphone');
      const done = (v) => { clearTimeout(t); own.close(); resolve(v); };
      const t = setTimeout(() => done(false), waitMs);
      own.onmessage = (e) => { if (e.data?.a === 'here' && e.data.key === key) done(true); };
      own.postMessage({ q: 'who', key });
    });
  }
}
