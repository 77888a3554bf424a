// Attended transfer from the softphone page: an agent consults a
// colleague while the caller waits, the colleague's phone rings with
// "Consultation from …", the two hear each other, and completing hands
// the caller to the colleague, who then hears the caller.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('consult then transfer', { timeout: 180_000 }, () => {
  let server;
  let aliceBrowser;
  let bobBrowser;
  const dir = h.tempDir('consult');

  before(async () => {
    server = await h.startServer();
    aliceBrowser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440) });
    bobBrowser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-600.wav'), 600) });
  });
  after(async () => {
    await aliceBrowser?.close();
    await bobBrowser?.close();
    await server?.stop();
  });

  it('consults a colleague, then completes the transfer', async () => {
    const alice = await aliceBrowser.newPage();
    await alice.goto(`${server.url}/?test=1`);
    await h.signIn(alice, server.creds.alice);
    const bob = await bobBrowser.newPage();
    await bob.goto(`${server.url}/?test=1`);
    await h.signIn(bob, server.creds.bob);
    for (const p of [alice, bob]) {
      await p.getByTestId('status-select').selectOption('available');
      await p.locator('[data-testid=status-select][data-status=available]').waitFor();
    }
    const caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '60s']);
    try {
      await alice.getByTestId('answer-button').click({ timeout: 20_000 });
      await h.waitForTone(alice, 1000);

      await alice.getByTestId('xfer-button').click();
      await alice.getByTestId('transfer-input').fill('1002');
      await alice.getByTestId('consult-button').click();
      await alice.getByTestId('consult-text').filter({ hasText: 'Calling 1002' }).waitFor();
      await bob.getByTestId('incoming').filter({ hasText: 'Consultation from 1001' }).waitFor({ timeout: 20_000 });
      await bob.getByTestId('answer-button').click();
      await alice.getByTestId('consult-text').filter({ hasText: 'Talking to 1002' }).waitFor();
      await h.waitForTone(alice, 600);
      await h.waitForTone(bob, 440);
      await h.waitForNoTone(alice, 1000);
      await h.screenshot(alice, 'consult');

      await alice.getByTestId('consult-complete').click();
      await alice.getByTestId('dialer').waitFor({ state: 'visible' });
      await h.waitFor(async () => (await alice.getByTestId('recent-list').innerText()).includes('Transferred'), { what: 'the call in recent calls as transferred' });
      // The caller is now with Bob.
      await h.waitForTone(bob, 1000);
      assert.match(await bob.getByTestId('call-remote').innerText(), /15557654321/);
      await bob.getByTestId('hangup-button').click();
      await bob.getByTestId('dialer').waitFor({ state: 'visible' });
    } finally {
      caller.kill();
    }
  });
});
