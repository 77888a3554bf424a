// Attended transfer from the softphone page: an agent consults a
// colleague while the caller waits, the colleague's phone rings with
// "Consultation from …", the two hear each other, and completing hands
// the caller to the colleague, who then hears the caller.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('consult, transfer and call waiting', { timeout: 180_000 }, () => {
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
      await alice.close();
      await bob.close();
    }
  });

  it('call waiting: takes a second caller, then resumes the first', async () => {
    const admin = await h.login(server, 'admin');
    const r = await fetch(`${server.url}/api/v1/settings`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin.accessToken}` },
      body: JSON.stringify({ callWaiting: true }),
    });
    assert.equal(r.status, 200, await r.text());
    const alice = await aliceBrowser.newPage();
    await alice.goto(`${server.url}/?test=1`);
    await h.signIn(alice, server.creds.alice);
    await alice.getByTestId('status-select').selectOption('available');
    await alice.locator('[data-testid=status-select][data-status=available]').waitFor();
    const first = h.dial(server, '1001', ['-tone', '1000', '-duration', '60s']);
    let second;
    try {
      await alice.getByTestId('answer-button').click({ timeout: 20_000 });
      await h.waitForTone(alice, 1000);
      second = h.dial(server, '1001', ['-from', '15550102222', '-tone', '1500', '-duration', '60s']);
      await alice.getByTestId('waiting-text').filter({ hasText: 'Call waiting: 15550102222' }).waitFor({ timeout: 20_000 });
      await h.screenshot(alice, 'call-waiting');
      await alice.getByTestId('waiting-take').click();
      await alice.getByTestId('call-remote').filter({ hasText: '15550102222' }).waitFor();
      await alice.getByTestId('waiting-text').filter({ hasText: 'On hold: 15557654321' }).waitFor();
      await h.waitForTone(alice, 1500);
      await h.waitForNoTone(alice, 1000);

      await alice.getByTestId('hangup-button').click();
      await alice.getByTestId('call-remote').filter({ hasText: '15557654321' }).waitFor();
      await alice.getByTestId('call-state').filter({ hasText: 'On hold' }).waitFor();
      await alice.getByTestId('hold-button').click();
      await alice.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
      await h.waitForTone(alice, 1000);
      await alice.getByTestId('hangup-button').click();
      await alice.getByTestId('dialer').waitFor({ state: 'visible' });
    } finally {
      first.kill();
      second?.kill();
      await alice.close();
    }
  });

  it('sets call forwarding from the softphone; a loop is refused', async () => {
    const admin = await h.login(server, 'admin');
    const api = async (method, url, body) => {
      const r = await fetch(`${server.url}${url}`, {
        method, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin.accessToken}` },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    };
    const alice = await aliceBrowser.newPage();
    await alice.goto(`${server.url}/?test=1`);
    await h.signIn(alice, server.creds.alice);
    try {
      await alice.getByTestId('forwarding').locator('summary').click();
      await alice.getByTestId('fwd-summary').filter({ hasText: 'off' }).waitFor();
      await alice.getByTestId('fwd-busy').check();
      await alice.getByTestId('fwd-busy-to').fill('+1 555 010 8888');
      await alice.getByTestId('fwd-noAnswer').check();
      await alice.getByTestId('fwd-noAnswer-to').fill('+1 555 010 9999');
      await alice.getByTestId('fwd-seconds').fill('15');
      await alice.getByTestId('fwd-save').click();
      await alice.getByTestId('fwd-summary').filter({ hasText: 'when i am on a call → +15550108888' }).waitFor();
      const stored = (await api('GET', '/api/v1/agents/1001/forwarding')).body;
      assert.deepEqual({ busy: stored.busy, noAnswer: stored.noAnswer, s: stored.noAnswerSeconds },
        { busy: { kind: 'number', target: '+15550108888' }, noAnswer: { kind: 'number', target: '+15550109999' }, s: 15 });
      await h.screenshot(alice, 'forwarding');

      // Bob forwards everything to Alice: Alice forwarding always to Bob would be a loop.
      assert.equal((await api('PUT', '/api/v1/agents/1002/forwarding', { unconditional: { kind: 'extension', target: '1001' } })).status, 200);
      await alice.getByTestId('fwd-unconditional').check();
      await alice.getByTestId('fwd-unconditional-to').fill('1002');
      await alice.getByTestId('fwd-save').click();
      await alice.getByTestId('error-line').filter({ hasText: /loop|circle|1001/i }).waitFor();
      assert.equal((await api('GET', '/api/v1/agents/1001/forwarding')).body.unconditional, undefined, 'the loop was not stored');

      await alice.getByTestId('fwd-clear').click();
      await alice.getByTestId('fwd-summary').filter({ hasText: 'off' }).waitFor();
      assert.equal((await api('GET', '/api/v1/agents/1001/forwarding')).body.busy, undefined);
      await api('DELETE', '/api/v1/agents/1002/forwarding');
    } finally {
      await alice.close();
    }
  });
});
