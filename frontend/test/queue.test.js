// Queues in the softphone: a call that comes through a queue says so on
// the ringing card, and the agent sees how long they have been in their
// status.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.js';

async function api(server, token, method, path, body) {
  const r = await fetch(`${server.url}${path}`, {
    method, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: body && JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

describe('queues', { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser();
    const admin = (await h.login(server, 'admin')).accessToken;
    await api(server, admin, 'POST', '/api/v1/queues', { name: 'sales', strategy: 'longest_idle', members: ['1001'] });
    await api(server, admin, 'POST', '/api/v1/numbers', { number: '+15550003000', route: 'queue', target: 'sales', extension: '1001' });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the queue on the ringing card and the time in status', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?test=1`);
    await h.signIn(page, server.creds.alice);
    const since = page.getByTestId('status-since');
    await h.waitFor(async () => /^\d+:\d\d$/.test(await since.innerText()), { what: 'the time in status' });
    const caller = h.dial(server, '15550003000', ['-duration', '30s']);
    try {
      const queue = page.getByTestId('incoming-queue');
      await queue.waitFor({ state: 'visible', timeout: 20_000 });
      assert.equal(await queue.innerText(), 'Queue: sales');
      await h.screenshot(page, 'queue-ringing');
      // The caller's card is the widget's, the queue the server's: the
      // agent answers and the call goes on as any other.
      await page.getByTestId('answer-button').click();
      await h.waitFor(async () => (await page.getByTestId('call-state').innerText()) === 'Connected', { what: 'the call to connect' });
    } finally {
      caller.kill();
    }
  });
});
