// The supervisors' wallboard: live agents, queues and calls from
// /ws/supervisor, and setting a forgotten agent's status from the board.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
    const board = await browser.newPage({ viewport: { width: 1280, height: 800 } });
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
  });
});
