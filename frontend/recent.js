// recent.js: the agent's recent calls, kept in localStorage per agent so a
// reload (or the next day) still shows them.

import { secondsBetween } from './format.js';

const RECENT_MAX = 20;

export class RecentCalls {
  #local;
  #key;

  /**
   * @param {{get(k: string): string|null, set(k: string, v: string): void, remove(k: string): void}} local
   * @param {() => string} agent the signed-in agent ("tenant/user")
   */
  constructor(local, agent) {
    this.#local = local;
    this.#key = () => `rb.recent.${agent()}`;
  }

  load() {
    try {
      const r = JSON.parse(this.#local.get(this.#key()) || '[]');
      return Array.isArray(r) ? r.slice(0, RECENT_MAX) : [];
    } catch {
      return [];
    }
  }

  /** Puts an ended call first in list; returns the new list. */
  add(list, call, endedAt, durationSeconds) {
    const entry = {
      id: call.id, direction: call.direction, number: call.remote || call.from || '', name: call.card?.name || '',
      endReason: call.endReason || '', endedAt, durationSeconds,
    };
    return this.#save([entry, ...list.filter((r) => r.id !== call.id)].slice(0, RECENT_MAX));
  }

  /** Corrects the end of a call that was guessed; returns the new list, or null when the call is not in it. */
  correct(list, c) {
    const r = list.find((x) => x.id === c.id);
    if (!r) return null;
    Object.assign(r, { endReason: c.endReason || '', endedAt: c.endedAt || r.endedAt,
      durationSeconds: c.answeredAt ? secondsBetween(c.answeredAt, c.endedAt) : 0 });
    return this.#save([...list]);
  }

  clear() { this.#local.remove(this.#key()); }

  #save(list) {
    this.#local.set(this.#key(), JSON.stringify(list));
    return list;
  }
}
