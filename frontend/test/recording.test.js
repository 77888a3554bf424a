// Recordings in Chromium (docs/recordings.md): the agent's widget starts
// an on-demand recording with its Record button, pauses it for a card
// number and resumes it; the admin console then lists the call, plays the
// recording in its player (a short-lived play link, seeking with Range
// requests) and shows the pause with who made it. Screenshots of the
// widget's button and of the player go to test-results/browser/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('recordings', { timeout: 180_000 }, () => {
  let server;
  let carrier;
  let browser;
  let agent;
  let admin;
  const dir = h.tempDir('recording');

  before(async () => {
    carrier = await h.carrier(['-tone', '1000']);
    server = await h.startServer({ carrier: carrier.addr });
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440) });
    agent = await browser.newPage();
    await agent.goto(`${server.url}/?test=1`);
    admin = await browser.newPage();
    await admin.setViewportSize({ width: 1280, height: 860 });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await carrier?.stop();
  });

  const api = async (method, p, body) => {
    const t = await h.login(server, 'admin');
    const r = await fetch(`${server.url}${p}`, {
      method, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t.accessToken}` },
      body: body && JSON.stringify(body),
    });
    return { status: r.status, body: await r.json().catch(() => null) };
  };

  it('starts, pauses and resumes the recording from the widget', async () => {
    const { status } = await api('PUT', '/api/v1/recording-policies/agent/1001', { policy: 'on_demand' });
    assert.equal(status, 200);
    await h.signIn(agent, server.creds.alice);
    const caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '40s']);
    try {
      await agent.getByTestId('answer-button').waitFor();
      await agent.getByTestId('answer-button').click();
      await agent.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
      await h.waitForTone(agent, 1000);
      const rec = agent.getByTestId('record-button');
      const state = (st) => agent.locator(`[data-testid=record-button][data-recording=${st}]`).waitFor();
      await state('available');
      assert.equal(await rec.getAttribute('aria-label'), 'Start recording');
      await rec.click();
      await state('recording');
      await new Promise((r) => setTimeout(r, 1500));
      await rec.click();
      await state('paused');
      assert.equal(await rec.getAttribute('aria-label'), 'Resume the recording');
      assert.equal(await rec.getAttribute('aria-pressed'), 'true');
      await h.screenshot(agent, 'recording-paused');
      await new Promise((r) => setTimeout(r, 1000));
      await rec.click();
      await state('recording');
      await new Promise((r) => setTimeout(r, 1500));
      await agent.getByTestId('hangup-button').click();
      await agent.getByTestId('dialer').waitFor();
    } finally {
      caller.kill();
      await caller.done;
    }
  });

  it('plays the recording in the admin console, seeking with Range', async () => {
    await admin.goto(`${server.url}/admin`);
    await admin.getByTestId('signin-login').fill('admin');
    await admin.getByTestId('signin-password').fill(server.creds.admin.password);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.getByTestId('who').waitFor();
    await admin.getByRole('button', { name: 'Calls' }).click();
    // The call record (and its recording) is stored as the call ends.
    await h.waitFor(async () => {
      await admin.getByRole('button', { name: 'Calls' }).click();
      return admin.getByTestId('play-button').first().isVisible();
    }, { what: 'a recorded call in the list' });
    await admin.getByTestId('play-button').first().click();
    const audio = admin.getByTestId('player-audio');
    const duration = await h.waitFor(() => audio.evaluate((a) => a.readyState >= 1 && a.duration), { what: 'the player to load the recording' });
    const calls = (await api('GET', '/api/v1/calls')).body.items;
    const talk = calls[0].durations.talkSeconds;
    // On demand: the file starts when Record was clicked, after the answer.
    assert.ok(duration > 3 && duration < talk - 0.5, `recording lasts ${duration} s of ${talk} s talk: ${JSON.stringify(calls[0].recordingPauses)}`);
    const pause = await admin.getByTestId('player-pauses').innerText();
    assert.match(pause, /Paused at \d+\.\d s for \d+\.\d s by alice, resumed by alice/);
    // Seek to the middle and play: the element fetches from there.
    const seeked = await audio.evaluate((a) => new Promise((resolve) => {
      a.muted = true;
      a.addEventListener('seeked', () => resolve(a.currentTime), { once: true });
      a.currentTime = a.duration / 2;
    }));
    assert.ok(Math.abs(seeked - duration / 2) < 0.5, `seeked to ${seeked}`);
    await audio.evaluate((a) => a.play());
    await h.waitFor(() => audio.evaluate((a) => a.currentTime > a.duration / 2 + 0.2), { what: 'playback past the seek point' });
    // The link answers ranges itself, with no credentials.
    const r = await audio.evaluate(async (a) => {
      const res = await fetch(a.src, { headers: { Range: 'bytes=0-43' } });
      const b = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, range: res.headers.get('Content-Range'), riff: String.fromCharCode(...b.slice(0, 4)), len: b.length };
    });
    assert.equal(r.status, 206);
    assert.match(r.range, /^bytes 0-43\/\d+$/);
    assert.deepEqual([r.riff, r.len], ['RIFF', 44]);
    await audio.evaluate((a) => a.pause());
    await h.screenshot(admin, 'admin-recording-player');
  });
});
