// Revocation reaches the page: when the agent is signed out everywhere (or
// disabled, deleted, given another role), the open softphone is told
// within seconds, shows why, and is back at the sign-in form; its refresh
// token no longer works.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.js';

describe('revoked sessions', { timeout: 90_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser({});
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signing out everywhere closes the open softphone with the reason', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?test=1`);
    await h.signIn(page, server.creds.alice);
    const pageRefresh = await page.evaluate(() => window.rbTest.phone.auth.tokens.refreshToken);

    const other = await h.login(server, 'alice');
    const t0 = Date.now();
    const r = await fetch(`${server.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${other.accessToken}` },
      body: JSON.stringify({ everywhere: true }),
    });
    assert.equal(r.status, 204);

    await page.getByTestId('login-form').waitFor({ timeout: 10_000 });
    await page.getByTestId('error-text').filter({ hasText: /revoked/ }).waitFor({ timeout: 5_000 });
    const took = Date.now() - t0;
    assert.ok(took < 10_000, `signed out after ${took} ms`);
    await h.screenshot(page, 'revoked');

    const refreshed = await fetch(`${server.url}/api/v1/auth/refresh`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant: 'demo', refreshToken: pageRefresh }),
    });
    assert.equal(refreshed.status, 401, 'the page\'s refresh token was revoked');
  });
});
