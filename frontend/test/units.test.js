// Fast checks without a browser: the pure helpers, and rules about the
// source that a browser test cannot see (we never post to "*", server text
// never goes through innerHTML).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cleanNumber, isDialable, safeHttpUrl, clock, secondsBetween, reasonLabel, jwtPayload } from '../format.js';
import { ROOT } from './harness.js';
import { noticeFor } from '../views.js';
import { warningText } from '../quality.js';
import { edges, layers } from '../ivr-graph.js';

describe('format', () => {
  it('cleans pasted numbers', () => {
    assert.equal(cleanNumber('Tel: +1 (555) 010-4477'), '+15550104477');
    assert.equal(cleanNumber('tel:+36-1-234-5678'), '+3612345678');
    assert.equal(cleanNumber(' 1002 '), '1002');
    assert.equal(cleanNumber('00 36 1 234'), '00361234');
    assert.equal(cleanNumber('*72#'), '*72#');
    assert.equal(cleanNumber('call me'), '');
    assert.equal(isDialable(cleanNumber('+1 555')), true);
    assert.equal(isDialable(''), false);
    assert.equal(isDialable('+'), false);
  });

  it('lets only http(s) links through', () => {
    assert.equal(safeHttpUrl('https://crm.example/contacts/7'), 'https://crm.example/contacts/7');
    assert.equal(safeHttpUrl('javascript:alert(1)'), '');
    assert.equal(safeHttpUrl('data:text/html,x'), '');
    assert.equal(safeHttpUrl('/relative'), '');
    assert.equal(safeHttpUrl(42), '');
  });

  it('formats time', () => {
    assert.equal(clock(0), '0:00');
    assert.equal(clock(75), '1:15');
    assert.equal(clock(3725), '1:02:05');
    assert.equal(secondsBetween('2026-03-02T09:12:40Z', '2026-03-02T09:15:02Z'), 142);
    assert.equal(secondsBetween('bad', '2026-03-02T09:15:02Z'), 0);
    assert.equal(reasonLabel('training_session'), 'Training session');
  });

  it('reads a JWT payload without trusting it', () => {
    const part = Buffer.from(JSON.stringify({ tid: 'demo', sub: 'u1', exp: 1 })).toString('base64url');
    assert.deepEqual(jwtPayload(`h.${part}.s`), { tid: 'demo', sub: 'u1', exp: 1 });
    assert.equal(jwtPayload('nonsense'), null);
  });
});

describe('notices', () => {
  const open = { signedIn: true, conn: 'open', connDetail: {}, call: { state: 'active' } };
  it('say the audio is reconnecting while the media recovers, even on a path that still reads connected', () => {
    assert.match(noticeFor(open, { connectionState: 'connected', recovering: true }).audio, /Reconnecting the audio… Your call continues/);
    assert.match(noticeFor({ ...open, conn: 'retrying', connDetail: { reached: true } }, { connectionState: 'connected', recovering: true }).audio, /Reconnecting the audio/);
    assert.match(noticeFor(open, { connectionState: 'disconnected', recovering: false }).audio, /Reconnecting the audio/);
    assert.equal(noticeFor(open, { connectionState: 'connected', recovering: false }).audio, '');
  });
});

describe('source rules', () => {
  const dirs = ['frontend', 'frontend/examples'];
  const files = dirs.flatMap((d) => fs.readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith('.js')).map((f) => path.join(ROOT, d, f)));

  it('never posts to "*"', () => {
    for (const f of files) {
      const src = fs.readFileSync(f, 'utf8');
      for (const m of src.matchAll(/postMessage\(([^;]*)\)/g)) {
        assert.doesNotMatch(m[1], /['"`]\*['"`]/, `${path.relative(ROOT, f)}: ${m[0]}`);
      }
    }
  });

  it('uses innerHTML only for the static template', () => {
    for (const f of files) {
      const src = fs.readFileSync(f, 'utf8');
      const uses = [...src.matchAll(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML/g)];
      const allowed = path.basename(f) === 'softphone-element.js' ? 1 : 0; // root.innerHTML = template(...)
      assert.ok(uses.length <= allowed, `${path.relative(ROOT, f)} sets HTML ${uses.length} times`);
    }
  });

  it('keeps files short enough to read', () => {
    for (const f of files) {
      const lines = fs.readFileSync(f, 'utf8').split('\n').length;
      assert.ok(lines < 500, `${path.relative(ROOT, f)} has ${lines} lines`);
    }
  });
});

describe('call quality warning', () => {
  it('names the side that is bad', () => {
    const sipPoor = { kind: 'sip', level: 'poor' };
    assert.match(warningText({ level: 'poor', side: 'remote', legs: [sipPoor] }), /caller's line is poor.*not your network/);
    assert.match(warningText({ level: 'poor', side: 'local', legs: [{ kind: 'agent', self: true, level: 'poor' }] }), /^Your network is poor/);
    assert.match(warningText({ level: 'poor', side: 'remote', legs: [{ kind: 'agent', extension: '1002', level: 'poor' }] }), /other party's network/);
    assert.equal(warningText({ level: 'fair', legs: [] }), '');
    assert.equal(warningText(null), '');
  });
});

describe('IVR graph', () => {
  it('lists each node\'s branches with their labels', () => {
    assert.deepEqual(edges({ id: 'm', kind: 'menu', choices: { 2: 'b', 1: 'a' }, onTimeout: 'm', onInvalid: 'bye' }),
      [['a', '1'], ['b', '2'], ['m', 'timeout'], ['bye', 'invalid']]);
    assert.deepEqual(edges({ id: 'c', kind: 'condition', then: 'x', else: 'y' }), [['x', 'then'], ['y', 'else']]);
    assert.deepEqual(edges({ id: 'r', kind: 'route', to: { kind: 'flow', target: 'sales' } }), [['flow:sales', '']]);
    assert.deepEqual(edges({ id: 'h', kind: 'hangup' }), []);
  });

  it('lays a flow out in rows from the start, branches in key order', () => {
    const flow = {
      start: 'menu',
      nodes: [
        { id: 'bye', kind: 'hangup' },
        { id: 'lost', kind: 'hangup' },
        { id: 'sales', kind: 'route', to: { kind: 'extension', target: '1001' } },
        { id: 'menu', kind: 'menu', choices: { 1: 'sales', 2: 'bye' } },
      ],
    };
    assert.deepEqual(layers(flow).map((row) => row.map((n) => n.id)), [['menu'], ['sales', 'bye'], ['lost']]);
  });
});
