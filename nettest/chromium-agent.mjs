// chromium-agent.mjs: the shipped softphone page in Debian's Chromium as
// an agent of the network suite (nettest/browser_test.go starts it inside
// a namespace). It signs in, answers the first call, and then reports the
// page's media and socket state on stdout until stdin closes; a "reload"
// line on stdin reloads the page.
//
// Env: RBNET_URL (the server), RBNET_LOGIN, RBNET_PASSWORD.

import path from 'node:path';
import * as h from '../frontend/test/harness.js';

const url = process.env.RBNET_URL;
const dir = h.tempDir('netswitch');
const browser = await h.launchBrowser({
  wav: h.writeToneWav(path.join(dir, 'mic-440.wav'), 440),
  // The server is plain http on a private address: let it use the microphone.
  extraArgs: [`--unsafely-treat-insecure-origin-as-secure=${url}`],
});
let done = false;
let reload = false;
process.stdin.on('end', () => { done = true; });
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { if (d.includes('reload')) reload = true; });
process.once('SIGTERM', () => { done = true; }); // the test is over: close the browser and exit
try {
  const page = await browser.newPage();
  await page.goto(`${url}/?test=1`);
  await h.signIn(page, { login: process.env.RBNET_LOGIN, password: process.env.RBNET_PASSWORD });
  console.log('signed in');
  await page.getByTestId('answer-button').click({ timeout: 30_000 });
  await page.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor();
  console.log('answered');
  let last = '';
  while (!done) {
    if (reload) {
      reload = false;
      await page.reload();
      await page.getByTestId('call-state').filter({ hasText: 'Connected' }).waitFor({ timeout: 15_000 });
      console.log('reloaded');
    }
    const s = await page.evaluate(() => {
      const p = window.rbTest.phone;
      const notice = document.querySelector('rb-softphone')?.shadowRoot?.querySelector('[data-testid=notice-audio]') ??
        document.querySelector('[data-testid=notice-audio]');
      return `state pc=${p.media.pc?.connectionState ?? 'none'} socket=${p.socket.state} call=${p.state.call?.state ?? 'none'} notice=${notice && !notice.hidden ? 'shown' : 'hidden'}`;
    });
    if (s !== last) console.log(`${s} t=${Date.now()}`);
    last = s;
    await new Promise((r) => setTimeout(r, 100));
  }
} catch (err) {
  if (!done) {
    console.log(`chromium agent failed: ${err.stack || err}`);
    process.exitCode = 1;
  }
} finally {
  await browser.close();
}
