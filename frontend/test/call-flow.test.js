// The agent's day in one call: sign in, go available, a SIP caller rings
// in, answer, both directions of audio are proven by tone detection (the
// far end hears the browser's fake microphone, the page hears the far
// end), DTMF and hold work, hang up, and the call lands in Recent calls.
// Screenshots of the idle, ringing and in-call states go to
// test-results/browser/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('call flow', { timeout: 180_000 }, () => {
  let server;
  let carrier;
  let browser;
  let page;
  const dir = h.tempDir('callflow');

  before(async () => {
    carrier = await h.carrier(['-tone', '1000']);
    server = await h.startServer({ carrier: carrier.addr, env: { RINGBRIDGE_WRAP_UP: '30s' } });
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440) });
    page = await browser.newPage();
    await page.goto(`${server.url}/?test=1`);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await carrier?.stop();
  });

  it('signs in and goes available', async () => {
    await h.signIn(page, server.creds.alice);
    await assert.doesNotReject(page.getByTestId('who').filter({ hasText: '1001' }).waitFor());
    // Away (with the tenant's first reason code, if it has any), then available.
    const away = await page.getByTestId('status-select').locator('option[value^="away:"]').first().getAttribute('value');
    await page.getByTestId('status-select').selectOption(away);
    await page.locator('[data-testid=status-select][data-status=away]').waitFor();
    await page.getByTestId('status-select').selectOption('available');
    await page.locator('[data-testid=status-select][data-status=available]').waitFor();
    // Keyboard: digits typed outside any field go to the dialer; pasting cleans the number.
    await page.getByTestId('who').click();
    await page.keyboard.type('1002');
    assert.equal(await page.getByTestId('dial-input').inputValue(), '1002');
    await page.getByTestId('dial-input').fill('');
    await page.getByTestId('dial-input').evaluate((el) => {
      const data = new DataTransfer();
      data.setData('text/plain', 'Tel: +1 (555) 010-4477');
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    });
    assert.equal(await page.getByTestId('dial-input').inputValue(), '+15550104477');
    await page.getByTestId('dial-input').fill('');
    // Between calls the microphone is not sent (an idle agent costs the server nothing).
    const idleSent = await h.packetsSent(page);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await h.packetsSent(page), idleSent, 'the page sent microphone packets with no call');
    await h.screenshot(page, 'idle');
    // Audio settings list the (fake) devices once the microphone is allowed.
    await page.locator('rb-softphone #settings summary').click();
    await h.waitFor(async () => (await page.getByTestId('mic-select').locator('option').count()) >= 2, { what: 'microphones listed' });
    assert.ok(await page.getByTestId('tone-select').locator('option').count() >= 3);
    await h.screenshot(page, 'settings');
    await page.locator('rb-softphone #settings summary').click();
  });

  it('answers a SIP caller; each side hears the other; DTMF and hold work; hangs up', async (t) => {
    const expect = h.dialSupportsExpect();
    const card = await h.addContact(server, {
      name: 'Dana Whitfield', company: 'Northwind Traders', tier: 'Gold', numbers: ['+15557654321'],
      notes: 'Renewal due next month. Prefers email follow-ups.', url: 'https://crm.example.test/contacts/c-1001',
      fields: { 'Open tickets': '1', 'Account': 'NW-2231' },
    });
    if (!card) t.diagnostic('the server has no phonebook API: no screen-pop card to check');
    const caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '40s', ...(expect ? ['-expect', '440'] : [])]);
    try {
      await h.waitForNoTone(page, 1000);
      const idleStage = await h.box(page, 'dialer');
      const idleRecent = await page.locator('rb-softphone .recent').boundingBox();
      await page.getByTestId('incoming').locator('[data-testid=caller-number]').filter({ hasText: '15557654321' }).waitFor();
      assert.equal(await page.getByTestId('answer-button').isVisible(), true);
      if (card) {
        // The screen pop: the card may follow the first ringing event.
        await page.getByTestId('incoming-card').getByTestId('card-name').filter({ hasText: 'Dana Whitfield' }).waitFor();
        assert.equal(await page.getByTestId('incoming-card').getByTestId('card-link').getAttribute('href'), 'https://crm.example.test/contacts/c-1001');
      }
      // No layout jump: the incoming panel takes the dialer's place, the same size, and nothing below moves.
      assert.deepEqual(await h.box(page, 'incoming'), idleStage, 'the incoming panel has the dialer\'s box');
      assert.deepEqual(await page.locator('rb-softphone .recent').boundingBox(), idleRecent, 'nothing below the stage moves');
      await h.screenshot(page, 'ringing');
      await page.getByTestId('answer-button').click();
      await page.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();

      // The page hears the far end's 1000 Hz, and not some other tone.
      const db = await h.waitForTone(page, 1000);
      const other = await page.evaluate(() => window.rbTest.toneRatio(2500));
      assert.ok(db - other >= 20, `1000 Hz at ${db.toFixed(1)} dB should stand well above 2500 Hz at ${other.toFixed(1)} dB`);
      assert.deepEqual(await h.box(page, 'in-call'), idleStage, 'the in-call panel has the dialer\'s box');
      const sentAtAnswer = await h.packetsSent(page);
      await h.screenshot(page, 'in-call');
      // Readable at 320 px: nothing sticks out sideways.
      await page.setViewportSize({ width: 320, height: 640 });
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 320);
      await h.screenshot(page, 'in-call-320');
      await page.setViewportSize({ width: 360, height: 720 });

      // A digit from the in-call keypad reaches the far end.
      await page.getByTestId('pad-button').click();
      await page.getByTestId('dtmf-key-5').click();
      await page.getByTestId('dtmf-log').filter({ hasText: '→ 5' }).waitFor();
      await h.waitFor(() => /digit received.*"digit":"5"/.test(caller.out.text), { what: 'the far end to receive DTMF 5' });

      // Mute is local: the microphone track stops, the call goes on.
      const micOn = () => page.evaluate(() => window.rbTest.phone.media.mic.getAudioTracks()[0].enabled);
      await page.getByTestId('mute-button').click();
      await page.locator('[data-testid=mute-button][aria-pressed=true]').waitFor();
      assert.equal(await micOn(), false);
      await page.getByTestId('mute-button').click();
      await page.locator('[data-testid=mute-button][aria-pressed=false]').waitFor();
      assert.equal(await micOn(), true);

      // Hold and resume.
      await page.getByTestId('hold-button').click();
      await page.getByTestId('call-state').filter({ hasText: 'On hold' }).waitFor();
      await page.getByTestId('hold-button').click();
      await page.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
      await h.waitForTone(page, 1000);

      // Let the far end's meter hear a good stretch of the browser's tone.
      await h.waitFor(async () => (await h.packetsSent(page)) - sentAtAnswer > 150, { what: 'the browser to send 3 s of call audio' });
      await page.getByTestId('hangup-button').click();
      await page.getByTestId('dialer').locator('[data-testid=dial-input]').waitFor({ state: 'visible' });

      const res = await caller.done;
      if (expect) {
        assert.equal(res.code, 0, `dial should hear 440 Hz from the browser:\n${res.out}`);
        assert.match(res.out, /heard 440 Hz/);
      } else {
        assert.equal(res.code, 0, res.out);
      }
      const recent = page.getByTestId('recent-list').locator('li').first();
      await recent.filter({ hasText: '15557654321' }).waitFor();
      assert.match(await recent.innerText(), /You hung up/);
    } finally {
      caller.kill();
    }
  });

  it('counts down wrap-up after the call; Ready ends it early', async () => {
    assert.equal(await page.evaluate(() => window.rbTest.phone.state.wrapUpSeconds), 30);
    await page.getByTestId('wrapup-text').filter({ hasText: /0:[0-3]\d left/ }).waitFor();
    assert.equal(await page.locator('[data-testid=status-select][data-status=wrapup]').isDisabled(), true);
    await h.screenshot(page, 'wrap-up');
    await page.getByTestId('wrapup-done').click();
    await page.locator('[data-testid=status-select][data-status=available]').waitFor();
  });

  it('redials from Recent calls with one click', async () => {
    // The number is not one of ours, so the call goes out through the trunk
    // to the stand-in carrier, which answers with its own 1000 Hz tone.
    await h.waitForNoTone(page, 1000);
    await page.getByTestId('recent-list').locator('button[data-number="15557654321"]').first().click();
    await page.getByTestId('call-remote').filter({ hasText: '15557654321' }).waitFor();
    await page.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
    await h.waitForTone(page, 1000);
    await page.getByTestId('hangup-button').click();
    await page.getByTestId('dial-input').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('recent-list').locator('li').count(), 2);
  });

  it('transfers a call blind to a number', async () => {
    if (await page.locator('[data-testid=status-select][data-status=wrapup]').count()) await page.getByTestId('wrapup-done').click();
    await page.locator('[data-testid=status-select][data-status=available]').waitFor();
    await h.waitForNoTone(page, 1000);
    // The caller must end up hearing the carrier's 1000 Hz, not the agent.
    const caller = h.dial(server, '1001', ['-from', '+15550107777', '-tone', '1000', '-duration', '8s', ...(h.dialSupportsExpect() ? ['-expect', '1000'] : [])]);
    try {
      await page.getByTestId('answer-button').click();
      await page.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
      await page.getByTestId('xfer-button').click();
      await page.getByTestId('transfer-input').fill('+1 555 000 1234');
      await page.getByTestId('transfer-button').click();
      await page.getByTestId('dial-input').waitFor({ state: 'visible' });
      await page.getByTestId('recent-list').locator('li').first().filter({ hasText: 'Transferred' }).waitFor();
      const res = await caller.done;
      assert.equal(res.code, 0, res.out);
      if (h.dialSupportsExpect()) assert.match(res.out, /heard 1000 Hz/);
      await h.waitFor(() => /incoming call.*5550001234/.test(carrier.out.text), { what: 'the carrier to get the transferred call' });
    } finally {
      caller.kill();
    }
  });
});
