// harness.js: what the browser tests share. The real ringbridge binary on
// free loopback ports, Debian's chromium driven by playwright-core with a
// fake microphone fed from a WAV file, a tiny static server standing in
// for a CRM, and the `ringbridge dial` / `answer` SIP peers. Never
// downloads a browser.
//
// RB_BIN overrides the binary (default bin/ringbridge), RB_CHROMIUM the
// browser (default /usr/bin/chromium). RB_TEST_LOG=1 echoes server logs.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = process.env.RB_BIN ? path.resolve(process.env.RB_BIN) : path.join(ROOT, 'bin/ringbridge');
export const CHROMIUM = process.env.RB_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test-results/browser');

/** Polls fn until it returns a truthy value; throws with what was last seen. */
export async function waitFor(fn, { timeout = 20_000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${last?.stack || JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// Ports come from below the kernel's ephemeral range (where bind(:0) and
// every outgoing connection take theirs), so a port we free while killing
// a server is still free when we start it again on the same ports.
const [EPHEMERAL_LOW] = (() => {
  try { return fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number); } catch { return [32768]; }
})();
const PORT_LOW = 20_000;
const PORT_HIGH = Math.max(PORT_LOW + 2_000, Math.min(EPHEMERAL_LOW, 32_768)) - 1;

async function canBind(port, { tcp = true, udp = false }) {
  if (tcp) {
    const srv = net.createServer();
    const ok = await new Promise((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) await new Promise((r) => srv.close(r));
    if (!ok) return false;
  }
  if (udp) {
    const sock = dgram.createSocket('udp4');
    const ok = await new Promise((resolve) => {
      sock.once('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => resolve(true));
    });
    sock.close();
    if (!ok) return false;
  }
  return true;
}

const handedOut = new Set();

/** A port free for TCP and, with udp, for UDP too (SIP uses both). */
export async function freePort({ udp = false, tcp = true } = {}) {
  for (let i = 0; i < 200; i++) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
    if (handedOut.has(port) || !(await canBind(port, { tcp, udp }))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port');
}

/** A UDP-only free port. */
export function freeUDPPort() {
  return freePort({ udp: true, tcp: false });
}

/** Writes a 16-bit mono WAV of a sine tone (a whole number of cycles, so it loops cleanly). */
export function writeToneWav(file, hz = 440, { seconds = 1, rate = 48_000, amplitude = 0.5 } = {}) {
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0); buf.writeUInt32LE(36 + n * 2, 4); buf.write('WAVE', 8);
  buf.write('fmt ', 12); buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20); buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24); buf.writeUInt32LE(rate * 2, 28); buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34);
  buf.write('data', 36); buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(Math.sin(2 * Math.PI * hz * i / rate) * amplitude * 32767), 44 + i * 2);
  fs.writeFileSync(file, buf);
  return file;
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rb-${prefix}-`));
}

/**
 * The binary embeds the frontend, so a binary older than a frontend file
 * would test stale code: refuse, rather than puzzle someone for an hour.
 */
function checkFresh() {
  if (!fs.existsSync(BIN)) return; // run() says how to build it
  const bin = fs.statSync(BIN).mtimeMs;
  for (const d of ['frontend', 'frontend/examples']) {
    for (const f of fs.readdirSync(path.join(ROOT, d))) {
      const file = path.join(ROOT, d, f);
      if (/\.(js|css|html)$/.test(f) && fs.statSync(file).mtimeMs > bin) {
        throw new Error(`${BIN} is older than ${path.relative(ROOT, file)}, which it embeds: run "make build" (make test-browser does)`);
      }
    }
  }
}

// Whatever a test file started dies with it, even when a test gives up midway.
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

/** A child process whose output is kept (and echoed with RB_TEST_LOG). */
function run(cmd, args, opts = {}) {
  if (!fs.existsSync(cmd)) throw new Error(`${cmd} is missing: run "make build" (or make test-browser) first`);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const out = { text: '' };
  for (const s of [proc.stdout, proc.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => {
      out.text += d;
      if (process.env.RB_TEST_LOG) process.stderr.write(`[${path.basename(cmd)} ${args[0]}] ${d}`);
    });
  }
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, out, exited };
}

/**
 * Starts `ringbridge serve` on free ports. Options: allowedOrigins,
 * carrier (host:port of the stand-in carrier for outbound calls), dataDir
 * (reuse one to restart with the same credentials), ports (reuse), env
 * (more RINGBRIDGE_* settings), retries (attempts when a port is still
 * taken, for restarts).
 */
export async function startServer(opts = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(opts);
    } catch (err) {
      // Restarting on the same ports can meet a socket the old process
      // left behind for a moment.
      if (attempt >= (opts.retries || 1) || !err.exited) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

async function startServerOnce({ allowedOrigins = [], carrier = '', dataDir = tempDir('data'), ports, env: extra = {} } = {}) {
  const p = ports || { http: await freePort(), sip: await freePort({ udp: true }), webrtc: await freeUDPPort() };
  const env = {
    ...process.env,
    RINGBRIDGE_TLS: 'false',
    RINGBRIDGE_HTTP_ADDR: `127.0.0.1:${p.http}`,
    RINGBRIDGE_SIP_ADDR: `127.0.0.1:${p.sip}`,
    RINGBRIDGE_WEBRTC_UDP_PORT: String(p.webrtc),
    RINGBRIDGE_WEBRTC_TCP_PORT: '0',
    RINGBRIDGE_MEDIA_IP: '127.0.0.1',
    RINGBRIDGE_DATA_DIR: dataDir,
    RINGBRIDGE_ALLOWED_ORIGINS: allowedOrigins.join(','),
    RINGBRIDGE_SHUTDOWN_TIMEOUT: '1s',
    RINGBRIDGE_LOG_LEVEL: process.env.RB_TEST_LOG ? 'debug' : 'info',
    ...extra,
  };
  if (carrier) {
    const cfg = path.join(dataDir, 'test-config.json');
    fs.writeFileSync(cfg, JSON.stringify({ trunks: [{ name: 'local', address: carrier, allowFrom: ['127.0.0.0/8'] }] }));
    env.RINGBRIDGE_CONFIG = cfg;
  }
  if (!process.env.RB_BIN) checkFresh();
  const child = run(BIN, ['serve'], { env });
  const url = `http://127.0.0.1:${p.http}`;
  let up;
  try {
    up = await waitFor(async () => {
      if (child.proc.exitCode !== null) return 'exited';
      const r = await fetch(`${url}/healthz`).catch(() => null);
      return r?.ok && 'up';
    }, { timeout: 30_000, what: 'ringbridge /healthz' });
  } catch (err) {
    child.proc.kill('SIGKILL');
    throw err;
  }
  if (up === 'exited') throw Object.assign(new Error(`ringbridge exited: ${child.out.text}`), { exited: true });
  const creds = readCredentials(dataDir);
  return {
    url, ports: p, dataDir, creds, log: child.out, sip: `127.0.0.1:${p.sip}`,
    /** SIGKILL: the server is gone at once, as when it crashes or the network drops. */
    async kill() {
      if (child.proc.exitCode === null) { child.proc.kill('SIGKILL'); await child.exited; }
    },
    async stop() {
      if (child.proc.exitCode !== null) return;
      child.proc.kill('SIGTERM');
      const t = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(t);
    },
  };
}

/** The demo logins the server wrote on first start ("alice  ext 1001 ... password X"). */
export function readCredentials(dataDir) {
  const text = fs.readFileSync(path.join(dataDir, 'demo-credentials.txt'), 'utf8');
  const creds = {};
  for (const m of text.matchAll(/^\s+(\S+)\s+ext\s+(\S+)\s+role\s+\S+\s+password\s+(\S+)/gm)) {
    creds[m[1]] = { login: m[1], extension: m[2], password: m[3] };
  }
  if (!creds.alice) throw new Error(`no demo credentials in: ${text}`);
  return creds;
}

/** `ringbridge dial`: a SIP caller. Resolves {code, out} when it exits. */
export function dial(server, number, args = []) {
  const c = run(BIN, ['dial', '-server', server.sip, ...args, number]);
  return { proc: c.proc, out: c.out, done: c.exited.then((r) => ({ ...r, out: c.out.text })), kill: () => c.proc.kill('SIGTERM') };
}

/** `ringbridge answer`: the stand-in carrier answering outbound calls with a tone. */
export async function carrier(args = []) {
  const port = await freePort({ udp: true });
  const c = run(BIN, ['answer', '-listen', `127.0.0.1:${port}`, ...args]);
  await waitFor(() => c.out.text.includes('answering calls') || c.proc.exitCode !== null, { what: 'carrier start' });
  if (c.proc.exitCode !== null) throw new Error(`carrier exited: ${c.out.text}`);
  return { addr: `127.0.0.1:${port}`, out: c.out, stop: async () => { c.proc.kill('SIGTERM'); await c.exited; } };
}

/** Does `ringbridge dial` know -expect (the far end's tone check)? */
export function dialSupportsExpect() {
  const r = spawnSync(BIN, ['dial', '-h'], { encoding: 'utf8' });
  return /-expect/.test(`${r.stdout}${r.stderr}`);
}

/**
 * Launches chromium with a fake microphone playing wav. mic: "allow"
 * (default) or "deny" (the user refused the permission); extraArgs are
 * more command-line flags.
 */
export async function launchBrowser({ wav, mic = 'allow', extraArgs = [] } = {}) {
  const args = [
    '--no-sandbox',
    mic === 'deny' ? '--use-fake-ui-for-media-stream=deny' : '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ];
  if (wav) args.push(`--use-file-for-fake-audio-capture=${path.resolve(wav)}`);
  args.push(...extraArgs);
  // launchPersistentContext gives the fresh --user-data-dir the flags ask for.
  const userDataDir = tempDir('chromium');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args, viewport: { width: 360, height: 720 },
  });
  context.setDefaultTimeout(20_000);
  return {
    context,
    async newPage() { return context.newPage(); },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A static server for the CRM side: serves frontend/examples/ plus extra
 * routes ({'/path': html}) on its own port. host is the name pages use
 * (localhost vs 127.0.0.1 makes a different origin, and site).
 */
export async function staticServer({ host = 'localhost', routes = {} } = {}) {
  const dir = path.join(ROOT, 'frontend/examples');
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (routes[u.pathname] !== undefined) {
      res.writeHead(200, { 'Content-Type': types['.html'], 'Cache-Control': 'no-store' });
      return res.end(routes[u.pathname]);
    }
    const file = path.join(dir, path.normalize(u.pathname).replace(/^([/\\])+/, ''));
    if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404);
      return res.end('not found');
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const origin = `http://${host}:${srv.address().port}`;
  return { origin, close: () => new Promise((r) => srv.close(r)) };
}

/** Saves a screenshot under test-results/browser/. */
export async function screenshot(target, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await target.screenshot({ path: file });
  return file;
}

/** Signs in through the form of a page or frame showing <rb-softphone>. */
export async function signIn(page, cred, tenant = 'demo') {
  await page.getByTestId('tenant-input').fill(tenant);
  await page.getByTestId('login-input').fill(cred.login);
  await page.getByTestId('password-input').fill(cred.password);
  await page.getByTestId('login-button').click();
  await page.getByTestId('conn-state').filter({ hasText: 'online' }).waitFor({ timeout: 20_000 });
  await page.locator('[data-testid=status-select]:not([data-status=offline])').waitFor();
}

/** Polls window.rbTest.toneRatio(hz) in page/frame until the tone stands out. */
export async function waitForTone(target, hz, { minDb = 20, timeout = 15_000 } = {}) {
  return waitFor(async () => {
    const db = await target.evaluate((f) => window.rbTest?.toneRatio(f), hz);
    return db !== null && db !== undefined && db >= minDb ? db : false;
  }, { timeout, interval: 200, what: `a ${hz} Hz tone in the remote audio` });
}

/** Polls until hz is absent from the remote audio (after a call, concealment can ring on briefly). */
export async function waitForNoTone(target, hz, { maxDb = 10, timeout = 15_000 } = {}) {
  return waitFor(async () => {
    const db = await target.evaluate((f) => window.rbTest?.toneRatio(f), hz);
    return db === null || db === undefined || db < maxDb;
  }, { timeout, interval: 200, what: `no ${hz} Hz tone in the remote audio` });
}

/**
 * The far end's count of 20 ms frames that carried its -expect tone so far
 * (`ringbridge dial -expect HZ` prints it each second): what the SIP side
 * really decoded, not what the page thinks it sent.
 */
export function farEndToneFrames(caller) {
  const all = [...caller.out.text.matchAll(/^tone frames (\d+)$/gm)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
}

/** Waits until the far end has decoded `frames` more frames of its tone (50 a second). */
export async function waitForFarEndTone(caller, { frames = 100, timeout = 15_000, what = 'the far end to hear the page' } = {}) {
  const from = farEndToneFrames(caller);
  await waitFor(() => farEndToneFrames(caller) >= from + frames || (caller.proc.exitCode !== null && 'exited'), { timeout, what: `${what} (${frames} tone frames after ${from})` })
    .then((r) => { if (r === 'exited') throw new Error(`the SIP caller exited:\n${caller.out.text}`); });
  return farEndToneFrames(caller) - from;
}

/** RTP packets the page's PeerConnection has sent. */
export function packetsSent(target) {
  return target.evaluate(async () => {
    const pc = window.rbTest?.phone.media.pc;
    if (!pc) return 0;
    let n = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'audio') n = s.packetsSent; });
    return n;
  });
}

/** The box of the element with this test id inside <rb-softphone> (layout checks). */
export async function box(target, testId) {
  return target.getByTestId(testId).boundingBox();
}

/** Signs in over REST; returns the token reply. */
export async function login(server, who) {
  const c = server.creds[who];
  const r = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenant: 'demo', login: c.login, password: c.password }),
  });
  if (!r.ok) throw new Error(`login ${who}: ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * Adds a phonebook contact as the admin, so calls from its number carry a
 * screen-pop card. Returns false when the server has no phonebook API.
 */
export async function addContact(server, contact) {
  const t = await login(server, 'admin');
  const r = await fetch(`${server.url}/api/v1/phonebook`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t.accessToken}` },
    body: JSON.stringify(contact),
  });
  if (r.status === 404 || r.status === 405) return false;
  if (!r.ok) throw new Error(`phonebook: ${r.status} ${await r.text()}`);
  return true;
}
