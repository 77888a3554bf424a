// The <rb-softphone> element's lifecycle on a host page: it dispatches
// the widget's events as DOM events ("rb:call.incoming", …), applies a
// changed tenant attribute, and removing it releases its websocket,
// PeerConnection and window/document listeners; putting one back resumes
// the session.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

// Counts what the page holds: websockets and PeerConnections created, and
// the listeners on window "online" and document "keydown" still attached.
const INSTRUMENT = () => {
  const live = { ws: [], pcs: [], online: 0, keydown: 0, events: [] };
  window.__live = live;
  const WS = window.WebSocket;
  window.WebSocket = class extends WS { constructor(...a) { super(...a); live.ws.push(this); } };
  const PC = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends PC { constructor(...a) { super(...a); live.pcs.push(this); } };
  const key = (target, type) => (target === window && type === 'online' ? 'online' : target === document && type === 'keydown' ? 'keydown' : '');
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, fn, opts) {
    const k = key(this, type);
    if (k) {
      live[k]++;
      opts?.signal?.addEventListener('abort', () => { live[k]--; }, { once: true });
    }
    return add.call(this, type, fn, opts);
  };
  EventTarget.prototype.removeEventListener = function (type, fn, opts) {
    const k = key(this, type);
    if (k) live[k]--;
    return remove.call(this, type, fn, opts);
  };
  for (const name of ['rb:call.incoming', 'rb:call.ended', 'rb:agent.signedIn']) {
    document.addEventListener(name, (e) => live.events.push({ name, detail: e.detail }));
  }
};

describe('element lifecycle', { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(h.tempDir('lifecycle'), 'mic.wav'), 440) });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('dispatches DOM events, follows its tenant attribute, and lets go of everything when removed', async () => {
    const page = await browser.newPage();
    await page.addInitScript(INSTRUMENT);
    await page.goto(`${server.url}/?test=1`);
    await page.evaluate(() => document.querySelector('rb-softphone').setAttribute('tenant', 'other-co'));
    assert.equal(await page.getByTestId('tenant-input').inputValue(), 'other-co');

    await h.signIn(page, server.creds.alice);
    await page.getByTestId('status-select').selectOption('available');
    await page.locator('[data-testid=status-select][data-status=available]').waitFor();
    const held = await page.evaluate(() => ({ online: window.__live.online, keydown: window.__live.keydown,
      ws: window.__live.ws.filter((w) => w.readyState === 1).length, pcs: window.__live.pcs.filter((p) => p.connectionState !== 'closed').length }));
    assert.ok(held.ws >= 1 && held.pcs >= 1 && held.online >= 1 && held.keydown >= 1, `in use: ${JSON.stringify(held)}`);

    const caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '30s']);
    try {
      await page.getByTestId('incoming').filter({ hasText: '15557654321' }).waitFor({ timeout: 20_000 });
      const ev = await h.waitFor(() => page.evaluate(() => window.__live.events.find((e) => e.name === 'rb:call.incoming')), { what: 'rb:call.incoming on the document' });
      assert.match(ev.detail.callId, /^call_/);
      assert.match(ev.detail.number, /15557654321/);
      await page.getByTestId('decline-button').click();
      await h.waitFor(() => page.evaluate(() => window.__live.events.find((e) => e.name === 'rb:call.ended')), { what: 'rb:call.ended on the document' });
    } finally {
      caller.kill();
    }

    await page.evaluate(() => document.querySelector('rb-softphone').remove());
    const left = await h.waitFor(async () => {
      const l = await page.evaluate(() => ({ online: window.__live.online, keydown: window.__live.keydown,
        ws: window.__live.ws.filter((w) => w.readyState !== 3).length, pcs: window.__live.pcs.filter((p) => p.connectionState !== 'closed' && p.signalingState !== 'closed').length }));
      return l.ws === 0 && l.pcs === 0 && l.online === 0 && l.keydown === 0 ? l : false;
    }, { what: 'the removed element to release its socket, PeerConnection and listeners' });
    assert.deepEqual(left, { online: 0, keydown: 0, ws: 0, pcs: 0 });

    // A new element on the same page resumes the session.
    await page.evaluate(() => document.body.append(document.createElement('rb-softphone')));
    await page.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: 20_000 });
  });
});
