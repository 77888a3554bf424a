// Honest states: the agent is told when the microphone is refused and when
// the server cannot be reached, and the phone recovers by itself when the
// server is back.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.js';

describe('microphone denied', { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser({ mic: 'deny' });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('says so, with a way to try again, and still signs in to hear callers', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?test=1`);
    await h.signIn(page, server.creds.alice);
    const note = page.getByTestId('notice-mic');
    await note.waitFor();
    assert.match(await note.innerText(), /Microphone blocked/);
    assert.equal(await page.getByTestId('mic-retry').isVisible(), true);
    // Still connected, with a PeerConnection that can receive.
    await h.waitFor(() => page.evaluate(() => window.rbTest.audioState().pc === 'connected'), { what: 'receive-only audio to connect' });
    await h.screenshot(page, 'mic-denied');
  });
});

describe('alerts', { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('rings, and shows a desktop notification while the tab is hidden', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?test=1`);
    await h.signIn(page, server.creds.alice);
    // Headless tabs are never hidden, and notifications need a permission
    // prompt: stand in for both, and record what the page asks for.
    await page.evaluate(() => {
      window.notes = [];
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      window.Notification = class {
        static permission = 'granted';
        constructor(title, options) { window.notes.push({ title, body: options?.body, closed: false }); this.i = window.notes.length - 1; }
        close() { window.notes[this.i].closed = true; }
      };
    });
    const caller = h.dial(server, '1001', ['-from', '+15550108888', '-duration', '30s']);
    try {
      await page.getByTestId('incoming').filter({ hasText: '15550108888' }).waitFor();
      const notes = await h.waitFor(() => page.evaluate(() => window.notes.length && window.notes), { what: 'a notification' });
      assert.equal(notes.length, 1);
      assert.equal(notes[0].title, 'Incoming call');
      assert.match(notes[0].body, /15550108888/);
      assert.equal(await page.title(), 'Incoming call: +15550108888');
      // The ringtone plays while it rings.
      assert.equal(await page.getByTestId('ring-audio').evaluate((a) => a.srcObject?.active === true), true);
      await page.getByTestId('decline-button').click();
      await page.getByTestId('dial-input').waitFor({ state: 'visible' });
      assert.equal(await page.evaluate(() => window.notes[0].closed), true, 'the notification goes when the ringing stops');
      assert.equal(await page.getByTestId('ring-audio').evaluate((a) => a.srcObject), null);
    } finally {
      caller.kill();
    }
  });
});

describe('server down', { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('says the server is unreachable, then reconnects when it is back', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?test=1`);
    await h.signIn(page, server.creds.alice);

    await server.kill();
    const notice = page.getByTestId('notice-server');
    await notice.waitFor({ timeout: 30_000 });
    assert.match(await notice.innerText(), /Can't reach the ringbridge server/);
    assert.match(await page.getByTestId('conn-state').innerText(), /offline/);
    await h.screenshot(page, 'server-down');

    // Same ports and data: the stored token is still good, so no sign-in.
    server = await h.startServer({ dataDir: server.dataDir, ports: server.ports, retries: 3 });
    await page.getByTestId('retry-now').click().catch(() => {}); // or wait for the backoff
    await page.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: 40_000 });
    await notice.waitFor({ state: 'hidden' });
    await h.waitFor(() => page.evaluate(() => window.rbTest.audioState().pc === 'connected'), { what: 'audio to reconnect' });
  });

  it('says so when signing in is impossible', async () => {
    const page = await browser.newPage(); // a new tab: not signed in
    await page.goto(`${server.url}/?test=1`);
    await page.getByTestId('login-form').waitFor();
    await server.kill();
    await page.getByTestId('login-input').fill('alice');
    await page.getByTestId('password-input').fill(server.creds.alice.password);
    await page.getByTestId('login-button').click();
    await page.getByTestId('error-text').filter({ hasText: 'Cannot reach the ringbridge server' }).waitFor();
    assert.equal(await page.getByTestId('login-form').isVisible(), true);
  });
});
