// The admin console's IVR tab in Chromium against the real binary: the
// admin uploads a prompt and plays it in the page's <audio> element,
// builds a flow with a menu through the node editor, removes a node a
// branch still points at and sees the server's refusal beside the menu
// node, fixes the branch, saves, and rolls back to the first version.
// The preview graph follows every step. The screenshots land in
// test-results/browser/; docs/img/admin-ivr.png and admin-ivr-error.png
// (docs/ivr.md) are copies of them, made by hand.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('admin console: IVR flows and prompts', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let page;
  const dir = h.tempDir('ivr');

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic.wav'), 440) });
    page = await browser.newPage();
    await page.setViewportSize({ width: 1360, height: 1100 });
    page.on('dialog', (d) => d.accept());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const api = async (method, p) => {
    const t = await h.login(server, 'admin');
    const r = await fetch(`${server.url}${p}`, { method, headers: { Authorization: `Bearer ${t.accessToken}` } });
    return { status: r.status, body: await r.json().catch(() => null) };
  };

  const node = (id) => page.locator(`#ivr-nodes [data-node="${id}"]`);
  const graphNode = (id) => page.getByTestId('ivr-graph').locator(`g.node[data-node="${id}"]`);

  it('signs in and opens the IVR tab', async () => {
    await page.goto(`${server.url}/admin`);
    await page.getByTestId('signin-login').fill('admin');
    await page.getByTestId('signin-password').fill(server.creds.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').filter({ hasText: 'admin' }).waitFor();
    await page.getByRole('button', { name: 'IVR' }).click();
    await page.getByTestId('prompts-table').waitFor();
  });

  it('uploads a 44.1 kHz WAV prompt and plays it in the page', async () => {
    const wav = h.writeToneWav(path.join(dir, 'welcome.wav'), 1000, { seconds: 1.2, rate: 44_100 });
    await page.getByTestId('prompt-name').fill('welcome');
    await page.getByTestId('prompt-file').setInputFiles(wav);
    await page.getByTestId('prompt-upload').click();
    await page.getByTestId('flash-ok').filter({ hasText: 'Prompt welcome uploaded: 1.2 s, from wav at 44100 Hz' }).waitFor();
    const row = page.locator('tr[data-prompt=welcome]');
    await row.getByRole('button', { name: '▶ Play' }).click();
    // The element plays the converted audio: its length is the prompt's
    // and its clock moves.
    const audio = page.getByTestId('prompt-audio');
    const duration = await h.waitFor(() => audio.evaluate((a) => (a.readyState >= 1 && a.duration > 0 ? a.duration : 0)), { what: 'the prompt loaded' });
    assert.ok(Math.abs(duration - 1.2) < 0.05, `duration ${duration}`);
    await h.waitFor(() => audio.evaluate((a) => a.currentTime > 0.2), { what: 'the prompt playing' });
    assert.match(await audio.evaluate((a) => a.src), /^blob:/);
    const { body } = await api('GET', '/api/v1/prompts');
    assert.deepEqual(body.items.map((p) => [p.name, p.source.rate]), [['welcome', 44100]]);
  });

  it('builds a flow with a menu and saves it as version 1', async () => {
    await page.getByTestId('ivr-new-id').fill('main');
    await page.getByTestId('ivr-new-name').fill('Main line');
    await page.getByRole('button', { name: 'New flow' }).click();
    await node('bye').waitFor();
    for (const [id, kind] of [['sales', 'route'], ['menu', 'menu']]) {
      await page.getByTestId('ivr-add-id').fill(id);
      await page.getByTestId('ivr-add-kind').selectOption(kind);
      await page.getByRole('button', { name: 'Add node' }).click();
      await node(id).waitFor();
    }
    await node('sales').getByLabel('Target').fill('1001');
    const menu = node('menu');
    await menu.getByLabel('Prompt').selectOption('welcome');
    for (const [key, to] of [['1', 'sales'], ['2', 'bye']]) {
      await menu.getByLabel('New key').fill(key);
      await menu.getByRole('button', { name: 'Add key' }).click();
      await node('menu').getByLabel(`key ${key}`).selectOption(to);
    }
    await node('menu').getByRole('button', { name: 'Make start' }).click();
    await page.locator('#ivr-nodes [data-node="menu"] .badge').filter({ hasText: 'start' }).waitFor();
    // The preview shows the menu with its two keyed branches.
    await graphNode('menu').waitFor();
    assert.equal(await page.locator('[data-edge="menu->sales"]').count(), 1);
    assert.equal(await page.locator('[data-edge="menu->bye"]').count(), 1);
    await page.getByTestId('ivr-save').click();
    await page.getByTestId('flash-ok').filter({ hasText: 'main saved as version 1' }).waitFor();
    const { body } = await api('GET', '/api/v1/ivr/flows/main');
    assert.equal(body.version, 1);
    assert.equal(body.flow.start, 'menu');
    assert.deepEqual(body.flow.nodes.find((n) => n.id === 'menu').choices, { 1: 'sales', 2: 'bye' });
    assert.deepEqual(body.flow.nodes.find((n) => n.id === 'menu').say, [{ prompt: 'welcome' }]);
  });

  it('shows the refusal of a dangling branch beside the node, then saves the fix', async () => {
    await node('sales').getByRole('button', { name: 'Remove' }).click();
    await node('sales').waitFor({ state: 'detached' });
    // Key 1 still names sales, marked missing; the preview draws a red stub.
    assert.equal(await node('menu').getByLabel('key 1').inputValue(), 'sales');
    await page.locator('path.edge.missing[data-edge="menu->sales"]').waitFor({ state: 'attached' });
    await page.getByTestId('ivr-save').click();
    const err = page.getByTestId('node-error-menu');
    await err.filter({ hasText: 'goes to "sales", which does not exist' }).waitFor();
    await page.getByTestId('flash-error').filter({ hasText: 'Not saved' }).waitFor();
    await h.screenshot(page, 'admin-ivr-error');
    assert.equal((await api('GET', '/api/v1/ivr/flows/main')).body.version, 1, 'nothing was saved');

    await node('menu').getByLabel('key 1').selectOption('bye');
    assert.equal(await err.innerText(), '', 'the message goes once the node is edited');
    await page.getByTestId('ivr-save').click();
    await page.getByTestId('flash-ok').filter({ hasText: 'main saved as version 2' }).waitFor();
    const { body } = await api('GET', '/api/v1/ivr/flows/main');
    assert.deepEqual(body.flow.nodes.map((n) => n.id).sort(), ['bye', 'menu']);
    await page.locator('tr[data-version="2"]').filter({ hasText: 'current' }).waitFor();
  });

  it('rolls back to version 1', async () => {
    await page.locator('tr[data-version="1"]').getByRole('button', { name: 'Roll back' }).click();
    await page.getByTestId('flash-ok').filter({ hasText: 'rolled back to version 1' }).waitFor();
    await node('sales').waitFor();
    await graphNode('sales').waitFor();
    await page.locator('tr[data-version="1"]').filter({ hasText: 'current' }).waitFor();
    const { body } = await api('GET', '/api/v1/ivr/flows/main');
    assert.equal(body.version, 1);
    assert.ok(body.flow.nodes.some((n) => n.id === 'sales'));
    const audit = await api('GET', '/api/v1/audit');
    const actions = audit.body.items.map((a) => a.action);
    for (const a of ['prompt.create', 'ivr.save', 'ivr.rollback']) assert.ok(actions.includes(a), `audit has ${a}`);
    await page.getByTestId('ivr-editor').scrollIntoViewIfNeeded();
    await h.screenshot(page, 'admin-ivr');
  });

  it('refuses to delete a prompt a flow plays, naming the flow; deletes one no flow plays', async () => {
    await page.locator('tr[data-prompt=welcome]').getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('flash-error').filter({ hasText: 'played by IVR flow main' }).waitFor();
    assert.equal(await page.locator('tr[data-prompt=welcome]').count(), 1);

    await page.getByTestId('prompt-name').fill('spare');
    await page.getByTestId('prompt-file').setInputFiles(h.writeToneWav(path.join(dir, 'spare.wav'), 600, { seconds: 0.5, rate: 16_000 }));
    await page.getByTestId('prompt-upload').click();
    await page.locator('tr[data-prompt=spare]').waitFor();
    await page.locator('tr[data-prompt=spare]').getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('flash-ok').filter({ hasText: 'Prompt spare deleted' }).waitFor();
    await page.locator('tr[data-prompt=spare]').waitFor({ state: 'detached' });
    const { body } = await api('GET', '/api/v1/prompts');
    assert.deepEqual(body.items.map((p) => p.name), ['welcome']);
  });
});
