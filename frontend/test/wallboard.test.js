// The supervisors' wallboard: live agents, queues and calls from
// /ws/supervisor, and setting a forgotten agent's status from the board.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('wallboard', { timeout: 120_000 }, () => {
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

  it('shows agents live, and a supervisor sets an agent away with a reason', async () => {
    const board = await browser.newPage();
    await board.setViewportSize({ width: 1280, height: 800 });
    await board.goto(`${server.url}/wallboard`);
    await board.getByTestId('signin-login').fill(server.creds.admin.login);
    await board.getByTestId('signin-password').fill(server.creds.admin.password);
    await board.getByRole('button', { name: 'Sign in' }).click();
    const alice = board.getByTestId('agent-1001');
    await h.waitFor(async () => (await alice.getAttribute('data-status')) === 'offline', { what: 'alice offline on the board' });
    assert.equal(await board.getByTestId('live').innerText(), 'live');

    // Alice signs in to her softphone: the board turns her available.
    const phone = await browser.newPage();
    await phone.goto(`${server.url}/?test=1`);
    await h.signIn(phone, server.creds.alice);
    await h.waitFor(async () => (await alice.getAttribute('data-status')) === 'available', { what: 'alice available on the board' });

    // The supervisor sends her on a break from the board; her phone shows it.
    await alice.click();
    await board.getByTestId('set-status-value').selectOption('away');
    await board.getByTestId('set-status-reason').fill('training');
    await board.getByTestId('set-status-ok').click();
    await h.waitFor(async () => (await alice.getAttribute('data-status')) === 'away', { what: 'alice away on the board' });
    assert.match(await alice.innerText(), /training/i);
    await h.waitFor(async () => (await phone.getByTestId('status-select').getAttribute('data-status')) === 'away', { what: 'her phone to show away' });
    await board.getByTestId('filter-status').selectOption('away');
    await h.waitFor(async () => (await board.getByTestId('agents').locator('button').count()) === 1, { what: 'the filter' });
    await board.getByTestId('filter-status').selectOption('');
    await h.screenshot(board, 'wallboard');
    await phone.close();
    await board.close();
  });

  it('listens in and whispers from the board, through the supervisor\'s own softphone', async () => {
    const admin = await h.login(server, 'admin');
    const api = async (method, url, body) => {
      const r = await fetch(`${server.url}${url}`, {
        method, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin.accessToken}` },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    };
    const sue = { login: 'sue', password: 'listening closely 9' };
    assert.equal((await api('POST', '/api/v1/users', { username: 'sue', role: 'supervisor', teams: ['north'], extension: '1009', password: sue.password })).status, 201);
    const alice = (await api('GET', '/api/v1/users?q=alice')).body.items[0];
    assert.equal((await api('PATCH', `/api/v1/users/${alice.id}`, { teams: ['north'] })).status, 200);

    const dir = h.tempDir('monitor');
    const agentBrowser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440) });
    const supBrowser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-700.wav'), 700) });
    let caller;
    try {
      const agentPhone = await agentBrowser.newPage();
      await agentPhone.goto(`${server.url}/?test=1`);
      await h.signIn(agentPhone, server.creds.alice);
      await agentPhone.getByTestId('status-select').selectOption('available');
      const supPhone = await supBrowser.newPage();
      await supPhone.goto(`${server.url}/?test=1`);
      await h.signIn(supPhone, sue);
      const board = await supBrowser.newPage();
      await board.setViewportSize({ width: 1280, height: 800 });
      await board.goto(`${server.url}/wallboard`);
      await board.getByTestId('signin-login').fill(sue.login);
      await board.getByTestId('signin-password').fill(sue.password);
      await board.getByRole('button', { name: 'Sign in' }).click();

      await agentPhone.locator('[data-testid=status-select][data-status=available]').waitFor();
      caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '60s']);
      await agentPhone.getByTestId('answer-button').click({ timeout: 20_000 });
      await h.waitForTone(agentPhone, 1000);
      const listen = board.getByTestId('monitor-listen');
      await listen.click({ timeout: 20_000 });
      await h.waitFor(async () => (await listen.getAttribute('aria-pressed')) === 'true', { what: 'listen pressed' });
      // The supervisor's softphone carries both parties; the agent does not hear the supervisor.
      await h.waitForTone(supPhone, 1000);
      await h.waitForTone(supPhone, 440);
      assert.match(await supPhone.getByTestId('call-state').innerText(), /Listening in/);
      await h.waitForNoTone(agentPhone, 700);

      await board.getByTestId('monitor-whisper').click();
      await h.waitForTone(agentPhone, 700);
      await h.waitForTone(agentPhone, 1000);
      assert.match(await supPhone.getByTestId('call-state').innerText(), /Coaching/);
      await h.screenshot(board, 'wallboard-whisper');

      await board.getByTestId('monitor-leave').click();
      await h.waitForNoTone(agentPhone, 700);
      await h.waitFor(async () => (await board.getByTestId('monitor-leave').count()) === 0, { what: 'leave button gone' });
    } finally {
      caller?.kill();
      await agentBrowser.close();
      await supBrowser.close();
    }
  });
});
