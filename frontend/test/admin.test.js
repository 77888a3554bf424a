// The admin console (/admin, docs/admin.md) in Chromium: the demo admin
// signs in, creates an agent and a number through the page, sees the
// generated password once and the changes in the audit log; the new agent
// then signs in to the softphone with that password and a SIP call to the
// new number rings them. A supervisor sees the console read-only.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('admin console', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let page;
  let password = '';
  const dir = h.tempDir('admin');

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic.wav'), 440) });
    page = await browser.newPage();
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const api = async (method, p, body) => {
    const t = await h.login(server, 'admin');
    const r = await fetch(`${server.url}${p}`, {
      method, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t.accessToken}` },
      body: body && JSON.stringify(body),
    });
    return { status: r.status, body: await r.json().catch(() => null) };
  };

  it('signs the admin in and lists the demo users', async () => {
    await page.goto(`${server.url}/admin`);
    await page.getByTestId('signin-login').fill('admin');
    await page.getByTestId('signin-password').fill(server.creds.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').filter({ hasText: 'super-admin' }).waitFor();
    await page.locator('tr[data-user=alice]').waitFor();
    assert.match(await page.locator('tr[data-user=bob]').innerText(), /1002/);
  });

  it('creates an agent; the generated password is shown once', async () => {
    await page.getByTestId('user-username').fill('nora');
    await page.getByTestId('user-name').fill('Nora New');
    await page.getByTestId('user-extension').fill('2042');
    await page.getByTestId('user-skills').fill('french:80, billing:40');
    await page.getByTestId('user-save').click();
    await page.getByTestId('flash-ok').filter({ hasText: 'nora created' }).waitFor();
    password = await page.getByTestId('secret').innerText();
    assert.ok(password.length >= 12, `generated password ${password}`);
    const row = page.locator('tr[data-user=nora]');
    await row.waitFor();
    assert.match(await row.innerText(), /Nora New\s+2042\s+agent\s+french:80, billing:40\s+active/);

    // Bad input is marked on the form field by field.
    await page.getByTestId('user-username').fill('bad user');
    await page.getByTestId('user-extension').fill('1');
    await page.getByTestId('user-save').click();
    await page.getByTestId('flash-error').filter({ hasText: 'extension' }).waitFor();
    assert.equal(await page.getByTestId('user-extension').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByTestId('user-username').getAttribute('aria-invalid'), 'true');
    await page.getByTestId('user-username').fill('');
    await page.getByTestId('user-extension').fill('');
  });

  it('adds a number routed to the new agent', async () => {
    await page.getByRole('button', { name: 'Numbers' }).click();
    await page.getByTestId('number-number').fill('+3612342042');
    await page.getByTestId('number-extension').fill('2042');
    await page.getByTestId('number-save').click();
    await page.locator('tr[data-number="+3612342042"]').waitFor();
    const { status, body } = await api('GET', '/api/v1/numbers');
    assert.equal(status, 200);
    const n = body.items.find((x) => x.number === '+3612342042');
    assert.ok(n, 'the number is in the API');
    assert.deepEqual([n.route, n.extension], ['extension', '2042']);
    await h.screenshot(page, 'admin-numbers');
  });

  it('shows the changes in the audit log', async () => {
    await page.getByRole('button', { name: 'Audit log' }).click();
    const table = page.getByTestId('audit-table');
    await table.locator('tr', { hasText: 'number.create' }).waitFor();
    await table.locator('tr', { hasText: 'user.create' }).waitFor();
    assert.doesNotMatch(await table.innerText(), new RegExp(password.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await page.getByRole('button', { name: 'Users' }).click();
    await page.locator('tr[data-user=nora]').waitFor();
    // The README's picture is this screenshot (copied by hand to docs/img).
    await h.screenshot(page, 'admin-console');
  });

  it('the new agent signs in with that password and the new number rings them', async () => {
    const phone = await browser.newPage();
    await phone.goto(`${server.url}/`);
    await h.signIn(phone, { login: 'nora', password });
    const caller = h.dial(server, '+3612342042', ['-duration', '20s']);
    try {
      await phone.getByTestId('incoming').locator('[data-testid=caller-number]').waitFor();
    } finally {
      caller.kill();
      await caller.done;
      await phone.close();
    }
  });

  it('saves tenant settings from the form', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    const form = page.locator('#settings-form');
    await form.locator('[name=wrapUpSeconds]').fill('20');
    await form.locator('[name=allowedOrigins]').fill('https://crm.example');
    await form.locator('[name=timeZone]').fill('Europe/Budapest');
    await form.locator('[name=callWaiting]').check();
    await form.locator('[name=recordingPolicy]').selectOption('on_demand');
    await form.locator('[name=recordingRetentionDays]').fill('90');
    await form.locator('[name="crm.queryUrl"]').fill('https://crm.example/ivr');
    await page.getByTestId('settings-save').click();
    await page.getByTestId('flash-ok').filter({ hasText: 'Settings saved' }).waitFor();
    const { body } = await api('GET', '/api/v1/settings');
    assert.equal(body.wrapUpSeconds, 20);
    assert.deepEqual(body.allowedOrigins, ['https://crm.example']);
    assert.equal(body.timeZone, 'Europe/Budapest');
    assert.equal(body.callWaiting, true);
    assert.equal(body.recordingPolicy, 'on_demand');
    assert.equal(body.recordingRetentionDays, 90);
    assert.equal(body.crm.queryUrl, 'https://crm.example/ivr');
    // The form shows what is stored after a reload.
    await page.reload();
    await page.getByRole('button', { name: 'Settings' }).click();
    assert.equal(await form.locator('[name=timeZone]').inputValue(), 'Europe/Budapest');
    assert.equal(await form.locator('[name=recordingPolicy]').inputValue(), 'on_demand');

    // A time zone that does not exist is refused with the server's words, and nothing changes.
    await form.locator('[name=timeZone]').fill('Mars/Olympus');
    await page.getByTestId('settings-save').click();
    await page.getByTestId('flash-error').waitFor();
    assert.equal((await api('GET', '/api/v1/settings')).body.timeZone, 'Europe/Budapest');
  });

  it('lists and adds SIP trunks (super-admin)', async () => {
    await page.getByRole('button', { name: 'Trunks' }).click();
    await page.locator('tr[data-trunk=local]').waitFor();
    const form = page.locator('#trunk-form');
    await form.locator('[name=name]').fill('backup');
    await form.locator('[name=address]').fill('127.0.0.1:5090');
    await form.locator('[name=allowFrom]').fill('127.0.0.1/32');
    await form.getByRole('button', { name: 'Add trunk' }).click();
    await page.locator('tr[data-trunk=backup]').waitFor();
    const { body } = await api('GET', '/api/v1/trunks');
    assert.deepEqual(body.items.map((t) => t.name), ['local', 'backup']);
  });

  it('a supervisor sees the users of their team, read-only', async () => {
    const created = await api('POST', '/api/v1/users', { username: 'sam', role: 'supervisor', teams: ['north'], password: 'supervising 4 life' });
    assert.equal(created.status, 201);
    assert.equal((await api('PATCH', `/api/v1/users/${(await api('GET', '/api/v1/users?q=nora')).body.items[0].id}`, { teams: ['north'] })).status, 200);
    const ctx = await browser.context;
    const sup = await ctx.newPage();
    await sup.goto(`${server.url}/admin`);
    await sup.getByRole('button', { name: 'Sign out' }).click().catch(() => {});
    await sup.getByTestId('signin-login').fill('sam');
    await sup.getByTestId('signin-password').fill('supervising 4 life');
    await sup.getByRole('button', { name: 'Sign in' }).click();
    await sup.getByTestId('who').filter({ hasText: 'supervisor' }).waitFor();
    await sup.locator('tr[data-user=nora]').waitFor();
    assert.equal(await sup.locator('tr[data-user=alice]').count(), 0, 'alice is not in the supervisor\'s team');
    assert.equal(await sup.locator('#user-form').isVisible(), false);
    assert.equal(await sup.getByRole('button', { name: 'Settings' }).isVisible(), false);
    await sup.close();
  });
});
