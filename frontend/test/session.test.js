// The call belongs to the server, not the tab: reloading the page
// re-attaches the agent to the call in progress (the SIP leg never drops
// and the audio comes back both ways), and a second tab of the same agent
// neither steals nor duplicates the audio until the agent says "Use here".

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.js';

describe('one call, many tabs', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let tab1;
  let caller;
  // Every agent websocket of tab1 goes through the test, which can cut it.
  const net = { down: false, route: null };
  const dir = h.tempDir('session');

  before(async () => {
    server = await h.startServer();
    browser = await h.launchBrowser({ wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440) });
    tab1 = await browser.newPage();
    await tab1.routeWebSocket(/\/ws\/agent$/, (ws) => {
      if (net.down) { ws.close({ code: 1011, reason: 'network down' }); return; }
      net.route = { ws, server: ws.connectToServer() };
    });
    await tab1.goto(`${server.url}/?test=1`);
    await h.signIn(tab1, server.creds.alice);
  });

  after(async () => {
    caller?.kill();
    await browser?.close();
    await server?.stop();
  });

  it('a reload re-attaches to the call in progress within seconds', async () => {
    // The caller plays 1000 Hz and decodes what it receives, counting the
    // page's 440 Hz: audio is proven where the customer would hear it.
    caller = h.dial(server, '1001', ['-tone', '1000', '-expect', '440', '-duration', '90s']);
    await tab1.getByTestId('answer-button').click();
    await tab1.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
    await h.waitForTone(tab1, 1000);
    const callId = await tab1.evaluate(() => window.rbTest.phone.state.call.id);

    const t0 = Date.now();
    await tab1.reload();
    await tab1.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor({ timeout: 10_000 });
    assert.equal(await tab1.evaluate(() => window.rbTest.phone.state.call.id), callId, 'the same call');
    await h.waitForTone(tab1, 1000, { timeout: 10_000 });
    const took = Date.now() - t0;
    assert.ok(took < 10_000, `audio back after ${took} ms`);
    assert.equal(caller.proc.exitCode, null, 'the SIP caller is still in the call');
    assert.doesNotMatch(caller.out.text, /call ended by far end/);
    // And the far end hears the reloaded page.
    await h.waitForFarEndTone(caller, { what: 'the far end to hear the reloaded page' });
  });

  it('a lost connection or a network change keeps the call and its audio', async () => {
    const { sessionId, callId } = await tab1.evaluate(() => ({ sessionId: window.rbTest.phone.socket.sessionId, callId: window.rbTest.phone.state.call.id }));
    // The websocket drops and cannot come back for a while; WebRTC media
    // does not ride on it.
    net.down = true;
    net.route.server.close({ code: 1001 });
    net.route.ws.close({ code: 1011, reason: 'network down' });
    await tab1.getByTestId('notice-reconnecting').or(tab1.getByTestId('notice-server')).first().waitFor();
    assert.match(await tab1.locator('rb-softphone .notices').innerText(), /Your call continues/);
    await h.waitForTone(tab1, 1000);
    net.down = false;
    await tab1.getByTestId('retry-now').click({ timeout: 2_000 }).catch(() => {}); // or wait out the backoff
    await tab1.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: 40_000 });
    assert.equal(await tab1.evaluate(() => window.rbTest.phone.socket.sessionId), sessionId, 'the session was resumed');
    assert.equal(await tab1.evaluate(() => window.rbTest.phone.state.call?.id), callId);

    // A network change resumes the websocket at once and restarts ICE on
    // the same PeerConnection; the audio carries on.
    const route = net.route;
    const ufrag = () => tab1.evaluate(() => /a=ice-ufrag:(\S+)/.exec(window.rbTest.phone.media.pc.localDescription.sdp)[1]);
    const before = await ufrag();
    await tab1.evaluate(() => window.dispatchEvent(new Event('online')));
    await h.waitFor(async () => (await ufrag()) !== before, { what: 'an ICE restart' });
    assert.notEqual(net.route, route, 'a new websocket');
    assert.equal(await tab1.evaluate(() => window.rbTest.phone.socket.sessionId), sessionId, 'the same session');
    await h.waitFor(() => tab1.evaluate(() => window.rbTest.audioState().pc === 'connected'), { what: 'ICE to reconnect' });
    await h.waitForTone(tab1, 1000);
    // The page's own meter says nothing about what it sends: the far end
    // must hear it again after the restart.
    await h.waitForFarEndTone(caller, { what: 'the far end to hear the page after the network change' });
    assert.equal(caller.proc.exitCode, null, 'the SIP caller is still in the call');
  });

  it('an ICE restart refused while the socket is down is sent again once it is back, and the far end hears the page', async () => {
    const ufrag = () => tab1.evaluate(() => /a=ice-ufrag:(\S+)/.exec(window.rbTest.phone.media.pc.localDescription.sdp)[1]);
    const answeredUfrag = () => tab1.evaluate(() => /a=ice-ufrag:(\S+)/.exec(window.rbTest.phone.media.pc.remoteDescription.sdp)[1]);
    const before = await ufrag();
    const remoteBefore = await answeredUfrag();
    // The network changes while the server cannot be reached: the socket's
    // resume fails and the restart offer is refused with not_connected.
    net.down = true;
    await tab1.evaluate(() => window.dispatchEvent(new Event('online')));
    await h.waitFor(async () => (await ufrag()) !== before, { what: 'a restart offer' });
    await h.waitFor(() => tab1.evaluate(() => window.rbTest.phone.socket.state === 'retrying'), { what: 'the socket to be down' });
    assert.equal(await tab1.evaluate(() => window.rbTest.phone.media.pc.signalingState), 'have-local-offer', 'the refused offer is kept, not rolled back');
    await tab1.getByTestId('notice-audio').filter({ hasText: 'Reconnecting the audio' }).waitFor({ timeout: 5_000 });
    await h.screenshot(tab1, 'reconnecting-audio');

    const t0 = Date.now();
    net.down = false;
    await tab1.getByTestId('retry-now').click({ timeout: 2_000 }).catch(() => {}); // or wait out the backoff
    await tab1.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: 40_000 });
    await h.waitFor(async () => (await answeredUfrag()) !== remoteBefore, { what: 'the server to answer the pending restart' });
    await h.waitFor(() => tab1.evaluate(() => window.rbTest.audioState().pc === 'connected'), { what: 'ICE to reconnect' });
    await h.waitForFarEndTone(caller, { what: 'the far end to hear the page after the refused restart' });
    const took = Date.now() - t0;
    assert.ok(took < 10_000, `the far end heard the page again ${took} ms after the socket could come back`);
    await tab1.getByTestId('notice-audio').waitFor({ state: 'hidden', timeout: 5_000 });
    await h.waitForTone(tab1, 1000);
    assert.equal(caller.proc.exitCode, null, 'the SIP caller is still in the call');
  });

  it('a second tab does not steal the call; "Use here" moves it', async () => {
    const tab2 = await browser.newPage();
    try {
      await tab2.goto(`${server.url}/?test=1`);
      await tab2.getByTestId('login-input').fill('alice');
      await tab2.getByTestId('password-input').fill(server.creds.alice.password);
      await tab2.getByTestId('login-button').click();
      await tab2.getByTestId('notice-tab-text').filter({ hasText: 'open in another tab' }).waitFor();
      assert.equal(await tab2.getByTestId('use-here').isVisible(), true);
      await h.screenshot(tab2, 'second-tab');

      // The first tab still has the call and its audio; the second has neither.
      await h.waitForTone(tab1, 1000);
      assert.equal(await tab1.evaluate(() => window.rbTest.phone.state.call?.state), 'active');
      assert.equal(await tab2.evaluate(() => window.rbTest.phone.state.call), null);
      assert.equal(await tab2.evaluate(() => window.rbTest.phone.media.pc), null, 'no second PeerConnection');

      await tab2.getByTestId('use-here').click();
      await tab2.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
      await h.waitForTone(tab2, 1000);
      await tab1.getByTestId('notice-tab-text').filter({ hasText: 'in use in another tab' }).waitFor();
      assert.equal(await tab1.evaluate(() => window.rbTest.phone.state.call), null);
      assert.equal(caller.proc.exitCode, null, 'the SIP caller is still in the call');

      await tab2.getByTestId('hangup-button').click();
      const res = await caller.done;
      assert.match(res.out, /call ended by far end/);
    } finally {
      await tab2.close();
    }
  });
});
