// The widget inside a CRM (docs/widget-api.md): the example host page
// (frontend/examples/crm-host.html) on another origin embeds /widget,
// places a call by click-to-dial over postMessage, receives the events in
// order, opens its customer panel on the screen-pop event, pauses and
// resumes the recording; a frame from an
// origin that is not on the allowlist can neither embed the widget nor
// command it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

const FOREIGN_PAGE = `<!doctype html><meta charset="utf-8"><title>foreign</title>
<p>A page on an origin the tenant did not allow.</p>
<script>
  window.got = [];
  addEventListener('message', (e) => window.got.push({ origin: e.origin, data: e.data }));
</script>`;

describe('embedded in a CRM', { timeout: 180_000 }, () => {
  let host;
  let foreign;
  let carrier;
  let server;
  let browser;
  let page;
  let widget; // the widget's Frame
  const dir = h.tempDir('embed');

  // i is the position in what the host page received; seq restarts with each widget page.
  const events = () => page.evaluate(() => window.crm.events.map((e, i) => ({ i, seq: e.seq, event: e.event, data: e.data })));
  const last = async () => (await events()).at(-1)?.i ?? -1;
  const waitEvent = (name, after = -1) => h.waitFor(async () => (await events()).find((e) => e.event === name && e.i > after),
    { what: `the host page to receive ${name}` });

  before(async () => {
    host = await h.staticServer({ host: 'localhost' });
    foreign = await h.staticServer({ host: '127.0.0.1', routes: { '/foreign.html': FOREIGN_PAGE } });
    carrier = await h.carrier(['-tone', '1000']);
    server = await h.startServer({ allowedOrigins: [host.origin], carrier: carrier.addr });
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440) });
    page = await browser.newPage();
    await page.setViewportSize({ width: 1100, height: 780 });
    await page.goto(`${host.origin}/crm-host.html?test=1&widget=${encodeURIComponent(`${server.url}/widget`)}`);
    await page.getByTestId('link-state').filter({ hasText: 'connected' }).waitFor();
    widget = page.frames().find((f) => f.url().startsWith(`${server.url}/widget`));
    assert.ok(widget, 'the widget frame is there');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await carrier?.stop();
    await host?.close();
    await foreign?.close();
  });

  it('serves /widget with frame-ancestors from the allowlist', async () => {
    const res = await fetch(`${server.url}/widget`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy'), new RegExp(`frame-ancestors 'self' ${host.origin}(;|$)`));
    assert.match(await res.text(), new RegExp(`<meta name="rb-embed-origins" content="${host.origin}">`));
  });

  it('signs in with a token handed in by the host page', async () => {
    const r = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant: 'demo', login: 'alice', password: server.creds.alice.password }),
    });
    const t = await r.json();
    const state = await page.evaluate((tok) => window.crm.widget.request('signIn', tok),
      { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresIn: t.expiresIn, tenant: 'demo' });
    assert.equal(state.signedIn, true);
    await widget.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor();
    const signedIn = await waitEvent('agent.signedIn');
    assert.deepEqual({ ...signedIn.data }, { username: 'alice', extension: '1001', tenant: 'demo' });
  });

  it('click-to-dial places a call and the events arrive in order', async () => {
    await page.getByTestId('dial-c-1001').click();
    const answered = await waitEvent('call.answered');
    await h.waitForTone(widget, 1000); // the carrier's tone reaches the agent
    await page.getByTestId('customer-panel').filter({ hasText: 'Dana Whitfield' }).waitFor();
    await page.getByTestId('host-hold').click();
    await waitEvent('call.held', answered.i);
    await page.getByTestId('host-hold').click();
    await waitEvent('call.resumed', answered.i);
    await page.getByTestId('host-hangup').click();
    const ended = await waitEvent('call.ended', answered.i);

    const all = await events();
    const seqs = all.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, k) => k + 1), 'events arrive in order, none lost, none twice');
    const names = all.filter((e) => e.i <= ended.i).map((e) => e.event).filter((n) => n !== 'agent.connection');
    assert.deepEqual(names, ['ready', 'agent.signedIn', 'agent.statusChanged', 'call.dialing', 'call.answered', 'call.held', 'call.resumed', 'call.ended']);
    const dialing = all.find((e) => e.event === 'call.dialing');
    assert.equal(dialing.data.number, '+15550104477');
    assert.equal(ended.data.callId, dialing.data.callId);
    assert.equal(ended.data.endReason, 'local_hangup');
    assert.equal(typeof ended.data.durationSeconds, 'number');
    assert.deepEqual(ended.data.callData, { customerId: 'c-1001' }, 'data attached at dial comes back');
  });

  it('opens the customer panel on the screen-pop event of an incoming call', async () => {
    await page.evaluate(() => { document.getElementById('customer-panel').hidden = true; });
    // After the last call the agent may be in wrap-up, when no calls are offered.
    await page.evaluate(() => window.crm.widget.request('setStatus', { status: 'available' }));
    await widget.locator('[data-testid=status-select][data-status=available]').waitFor();
    // With a phonebook entry the call carries a card, which the host receives.
    const card = await h.addContact(server, {
      name: 'Rahul Mehta', company: 'Contoso Ltd', tier: 'Silver', numbers: ['+15550106655'],
      notes: 'Open ticket #4412: billing address. Prefers calls after 2 pm.', url: 'https://crm.example.test/contacts/c-1002',
    });
    const before = await last();
    const caller = h.dial(server, '1001', ['-from', '+15550106655', '-tone', '1000', '-duration', '30s']);
    try {
      const incoming = await waitEvent('call.incoming', before);
      assert.equal(incoming.data.number.replace(/^\+/, ''), '15550106655');
      await page.getByTestId('customer-panel').filter({ hasText: 'Rahul Mehta' }).waitFor();
      if (card) {
        // The card may come with the first event or a later call.updated.
        await page.getByTestId('panel-notes').filter({ hasText: 'Prefers calls after 2 pm' }).waitFor();
        await widget.getByTestId('incoming-card').getByTestId('card-name').filter({ hasText: 'Rahul Mehta' }).waitFor();
      }
      await widget.getByTestId('incoming').filter({ hasText: '15550106655' }).waitFor();
      await h.screenshot(page, 'crm-host-ringing');
      await page.evaluate(() => window.crm.widget.request('decline'));
      const ended = await waitEvent('call.ended', incoming.i);
      assert.equal(ended.data.endReason, 'rejected');
      assert.equal(ended.data.durationSeconds, 0);
    } finally {
      caller.kill();
    }
  });

  it('rings for a click-to-call the CRM started over REST; answering dials out', async (t) => {
    await page.evaluate(() => window.crm.widget.request('setStatus', { status: 'available' }));
    await widget.locator('[data-testid=status-select][data-status=available]').waitFor();
    const admin = await h.login(server, 'admin');
    const before = await last();
    const r = await fetch(`${server.url}/api/v1/calls`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin.accessToken}` },
      body: JSON.stringify({ extension: '1001', number: '+1 (555) 010-6655' }),
    });
    if (r.status === 404 || r.status === 405) return t.skip('the server has no click-to-call API');
    assert.equal(r.status, 202, await r.text());
    const incoming = await waitEvent('call.incoming', before);
    assert.equal(incoming.data.origin, 'click_to_call');
    await widget.getByTestId('incoming').filter({ hasText: 'Call requested from the CRM' }).waitFor();
    await widget.getByTestId('answer-button').click();
    const answered = await waitEvent('call.answered', incoming.i);
    assert.equal(answered.data.callId, incoming.data.callId);
    await h.waitForTone(widget, 1000);
    await page.getByTestId('host-hangup').click();
    await waitEvent('call.ended', answered.i);
  });

  it('consults a colleague and completes the transfer over postMessage', async () => {
    await page.evaluate(() => window.crm.widget.request('setStatus', { status: 'available' }));
    await widget.locator('[data-testid=status-select][data-status=available]').waitFor();
    const bobBrowser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-600.wav'), 600) });
    let caller;
    try {
      const bob = await bobBrowser.newPage();
      await bob.goto(`${server.url}/?test=1`);
      await h.signIn(bob, server.creds.bob);
      await bob.getByTestId('status-select').selectOption('available');
      await bob.locator('[data-testid=status-select][data-status=available]').waitFor();
      const before = await last();
      caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '60s']);
      const incoming = await waitEvent('call.incoming', before);
      await page.evaluate(() => window.crm.widget.request('answer'));
      await waitEvent('call.answered', incoming.i);
      await page.evaluate(() => window.crm.widget.request('consult', { to: '1002' }));
      const started = await waitEvent('call.consult', incoming.i);
      assert.equal(started.data.consult.target, '1002');
      await bob.getByTestId('answer-button').click({ timeout: 20_000 });
      await h.waitFor(async () => (await events()).find((e) => e.event === 'call.consult' && e.i > started.i && e.data.consult?.state === 'active'),
        { what: 'call.consult with the colleague answered' });
      await h.waitForTone(widget, 600);
      await page.evaluate(() => window.crm.widget.request('consultComplete'));
      const moved = await waitEvent('call.transferred', incoming.i);
      assert.equal(moved.data.to, '1002');
      const ended = await waitEvent('call.ended', incoming.i);
      assert.equal(ended.data.endReason, 'transferred');
      await h.waitForTone(bob, 1000);
      await bob.getByTestId('hangup-button').click();
    } finally {
      caller?.kill();
      await bobBrowser.close();
    }
  });

  it('re-attaches to the call in progress when the CRM re-creates the iframe', async () => {
    await page.evaluate(() => window.crm.widget.request('setStatus', { status: 'available' }));
    const caller = h.dial(server, '1001', ['-tone', '1000', '-duration', '60s']);
    try {
      const incoming = await waitEvent('call.incoming', await last());
      await page.evaluate(() => window.crm.widget.request('answer'));
      await waitEvent('call.answered', incoming.i);
      await h.waitForTone(widget, 1000);
      const mark = await last();

      // A single-page CRM navigating: the frame is loaded afresh.
      await page.evaluate(() => { const f = document.getElementById('softphone'); f.src = f.src; });
      const ready = await waitEvent('ready', mark);
      const restored = await waitEvent('call.restored', ready.i);
      assert.equal(restored.data.callId, incoming.data.callId);
      assert.equal(restored.data.state, 'active');
      widget = page.frames().find((f) => f.url().startsWith(`${server.url}/widget`));
      await h.waitForTone(widget, 1000, { timeout: 10_000 });
      assert.equal(caller.proc.exitCode, null, 'the SIP caller is still in the call');
      await page.evaluate(() => window.crm.widget.request('hangup'));
      await waitEvent('call.ended', restored.i);
    } finally {
      caller.kill();
    }
  });

  it('ignores messages from an origin that is not allowed', async () => {
    // A foreign frame inside the CRM page posts straight to the widget.
    await page.evaluate((src) => new Promise((resolve) => {
      const f = Object.assign(document.createElement('iframe'), { src, id: 'foreign' });
      f.onload = resolve;
      document.body.append(f);
    }), `${foreign.origin}/foreign.html`);
    const evil = page.frames().find((f) => f.url().startsWith(foreign.origin));
    const before = await last();
    const droppedBefore = await widget.evaluate(() => window.rbTest.dropped);
    await evil.evaluate(() => {
      const w = window.parent.frames[0];
      w.postMessage({ ringbridge: 1, kind: 'request', id: 'x1', method: 'handshake', params: { version: 1 } }, '*');
      w.postMessage({ ringbridge: 1, kind: 'request', id: 'x2', method: 'dial', params: { number: '+15550109999' } }, '*');
    });
    await h.waitFor(async () => (await widget.evaluate(() => window.rbTest.dropped)) >= droppedBefore + 2, { what: 'the widget to drop both messages' });
    // A round trip from the real host proves the widget is past those messages.
    const state = await page.evaluate(() => window.crm.widget.request('getState'));
    assert.equal(state.call, null, 'no call was placed');
    assert.deepEqual(await evil.evaluate(() => window.got), [], 'nothing was answered to the foreign frame');
    assert.equal((await events()).filter((e) => e.i > before && e.event.startsWith('call.')).length, 0);
  });

  it('pauses and resumes the recording over postMessage', async () => {
    const t = await h.login(server, 'admin');
    const put = await fetch(`${server.url}/api/v1/recording-policies/agent/1001`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t.accessToken}` },
      body: JSON.stringify({ policy: 'always' }),
    });
    assert.equal(put.status, 200);
    const before = await last();
    await page.getByTestId('dial-c-1001').click();
    const answered = await waitEvent('call.answered', before);
    assert.equal(answered.data.recording, 'recording');
    const recordingIs = (state, after) => h.waitFor(async () => (await events())
      .find((e) => e.event === 'call.recording' && e.i > after && e.data.recording === state), { what: `call.recording ${state}` });
    await page.evaluate(() => window.crm.widget.request('recording', { action: 'pause' }));
    const paused = await recordingIs('paused', answered.i);
    const wrong = await page.evaluate(() => window.crm.widget.request('recording', { action: 'pause' }).then(() => null, (e) => e.code));
    assert.equal(wrong, 'conflict', 'pausing a paused recording is refused');
    const bad = await page.evaluate(() => window.crm.widget.request('recording', { action: 'rewind' }).then(() => null, (e) => e.code));
    assert.equal(bad, 'bad_params');
    await page.evaluate(() => window.crm.widget.request('recording', { action: 'resume' }));
    const resumed = await recordingIs('recording', paused.i);
    await page.getByTestId('host-hangup').click();
    await waitEvent('call.ended', resumed.i);
  });

  it('cannot be framed by an origin that is not allowed', async () => {
    const p = await browser.newPage();
    try {
      await p.goto(`${foreign.origin}/foreign.html`);
      await p.evaluate((src) => new Promise((resolve) => {
        const f = Object.assign(document.createElement('iframe'), { src, allow: 'microphone; autoplay' });
        f.onload = resolve;
        document.body.append(f);
      }), `${server.url}/widget`);
      const child = p.frames().find((f) => f !== p.mainFrame());
      // Chromium replaces a frame refused by frame-ancestors with its error page.
      await h.waitFor(async () => !(await child.evaluate(() => Boolean(document.querySelector('rb-softphone'))).catch(() => false)),
        { what: 'the widget to be refused' });
      assert.doesNotMatch(child.url(), /\/widget$/);
    } finally {
      await p.close();
    }
  });
});
