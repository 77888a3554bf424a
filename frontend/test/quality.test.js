// Call quality: a caller on a lossy line (`ringbridge dial -loss`, a SIP
// far end dropping a quarter of its packets). The agent's widget warns
// that the caller's line is bad, not their network; the wallboard shows
// the call's quality badge; the call record keeps both legs' quality,
// the agent's own leg good. Screenshots go to test-results/browser/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('call quality', { timeout: 150_000 }, () => {
  let server;
  let browser;
  const dir = h.tempDir('quality');

  before(async () => {
    server = await h.startServer({ env: { RINGBRIDGE_QUALITY_INTERVAL: '1s' } });
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440) });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('warns the agent about the caller\'s line and shows it on the wallboard', async () => {
    const board = await browser.newPage();
    await board.setViewportSize({ width: 1280, height: 800 });
    await board.goto(`${server.url}/wallboard`);
    await board.getByTestId('signin-login').fill(server.creds.admin.login);
    await board.getByTestId('signin-password').fill(server.creds.admin.password);
    await board.getByRole('button', { name: 'Sign in' }).click();
    await h.waitFor(async () => (await board.getByTestId('live').innerText()) === 'live', { what: 'the board live' });

    const page = await browser.newPage();
    await page.goto(`${server.url}/?test=1`);
    await h.signIn(page, server.creds.alice);
    const caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '45s', '-loss', '0.25']);
    try {
      await page.getByTestId('answer-button').click({ timeout: 20_000 });
      await page.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
      const warning = page.getByTestId('call-quality');
      await h.waitFor(async () => (await warning.getAttribute('data-level')) === 'poor', { timeout: 30_000, what: 'a poor-quality warning' });
      assert.equal(await warning.getAttribute('data-side'), 'remote');
      assert.match(await warning.innerText(), /caller's line is poor/i);
      assert.match(await warning.innerText(), /not your network/i);
      assert.equal(await warning.isVisible(), true);
      await h.screenshot(page, 'quality-warning');
      // The widget's own statistics reach the server (accepted, not refused).
      await h.waitFor(() => page.evaluate(() => window.rbTest.statsSent >= 2), { what: 'the widget to report its statistics' });

      const badge = board.locator('[data-testid^=quality-][data-quality=poor]');
      await badge.waitFor({ timeout: 20_000 });
      assert.match(await badge.innerText(), /Poor · caller \(loss [\d.]+ %, MOS [\d.]+\)/);
      assert.match(await badge.getAttribute('title'), /agent 1001: MOS/);
      await h.screenshot(board, 'wallboard-quality');

      await page.getByTestId('hangup-button').click();
      await page.getByTestId('dialer').locator('[data-testid=dial-input]').waitFor({ state: 'visible' });
      assert.equal(await warning.isVisible(), false, 'the warning leaves with the call');
    } finally {
      caller.kill();
      await caller.done;
    }

    // The record keeps each leg's quality.
    const t = await h.login(server, 'admin');
    const auth = { headers: { Authorization: `Bearer ${t.accessToken}` } };
    const rec = await h.waitFor(async () => {
      const r = await fetch(`${server.url}/api/v1/calls?limit=1`, auth);
      const body = await r.json();
      return body.items?.[0]?.quality?.length ? body.items[0] : null;
    }, { what: 'the stored call record with quality' });
    const sip = rec.quality.find((q) => q.kind === 'sip');
    const agent = rec.quality.find((q) => q.kind === 'agent');
    assert.ok(sip && sip.poorSamples > 0 && sip.lossPercentMax >= 5, `SIP leg in the record: ${JSON.stringify(sip)}`);
    assert.ok(agent && agent.extension === '1001' && agent.level === 'good', `agent leg in the record: ${JSON.stringify(agent)}`);
  });
});
