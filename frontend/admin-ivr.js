// admin-ivr.js: the console's IVR tab (docs/ivr.md). A flow is edited as
// a list of nodes whose branches are chosen from the flow's node ids; a
// save is a new version, and a refusal naming a node is shown beside that
// node. The preview is an SVG drawn here (layers by distance from the
// start node), and the prompts section uploads, plays and deletes
// prompts. Server text only reaches the page through textContent.

import { drawFlow } from './ivr-graph.js';

const KINDS = ['play', 'menu', 'collect', 'route', 'set', 'webhook', 'condition', 'crm', 'hangup'];
const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * @param {object} d what the console shares: api, el, flash, showError,
 *   guarded, isAdmin, when
 */
export function ivrTab(d) {
  const { api, el, flash, guarded } = d;
  const $ = (sel) => document.querySelector(sel);
  let draft = null; // the flow being edited
  let isNew = false;
  let prompts = [];
  let audioURL = '';

  // ---- flows ----

  async function load() {
    await loadPrompts();
    const page = await api('GET', '/api/v1/ivr/flows');
    $('#ivr-flows-body').replaceChildren(...page.items.map((v) => el('tr', { 'data-flow': v.flow.id },
      el('td', {}, v.flow.id), el('td', {}, v.flow.name), el('td', {}, `v${v.version}`), el('td', {}, v.flow.nodes.length),
      el('td', { class: 'actions' }, el('button', { type: 'button', on: { click: guarded(() => open(v.flow.id)) } }, 'Edit')))));
    if (draft && !isNew) await loadVersions();
  }

  async function open(id) {
    const v = await api('GET', `/api/v1/ivr/flows/${encodeURIComponent(id)}`);
    edit(v.flow, false);
    await loadVersions();
  }

  function edit(flow, fresh) {
    draft = structuredClone(flow);
    isNew = fresh;
    $('#ivr-editor').hidden = false;
    $('#ivr-editor-title').textContent = fresh ? `New flow ${flow.id}` : `Flow ${flow.id}`;
    $('#ivr-flow-name').value = flow.name;
    $('#ivr-versions').hidden = fresh;
    render();
  }

  function newFlow(ev) {
    const f = ev.target;
    const id = f.elements.id.value.trim();
    edit({ id, name: f.elements.name.value.trim() || id, start: 'bye', nodes: [{ id: 'bye', kind: 'hangup' }] }, true);
    f.reset();
  }

  const ids = () => draft.nodes.map((n) => n.id);

  /** A select of node ids; a branch to a node that is gone stays, marked. */
  function branch(value, onChange, { optional = true, label = '' } = {}) {
    const opts = optional ? [el('option', { value: '' }, '— hang up —')] : [];
    for (const id of ids()) opts.push(el('option', { value: id }, id));
    if (value && !ids().includes(value)) opts.push(el('option', { value }, `${value} (missing)`));
    const s = el('select', { 'aria-label': label, on: { change: () => { onChange(s.value); changed(); } } }, ...opts);
    s.value = value || '';
    return s;
  }

  function input(value, onInput, attrs = {}) {
    const i = el('input', { ...attrs, on: { input: () => { onInput(attrs.type === 'number' ? Number(i.value || 0) : i.value); changed(false); } } });
    i.value = value ?? '';
    return i;
  }

  const field = (text, control) => el('label', {}, text, control);

  /** The node's first sound: a prompt, a tone or digits. */
  function soundEditor(n) {
    // A node without a sound gets one: the first prompt, or a beep when
    // none has been uploaded yet.
    if (!n.say?.length) n.say = [prompts.length ? { prompt: prompts[0].name } : { toneHz: 440, ms: 500 }];
    const s = n.say[0];
    const kind = s.prompt !== undefined ? 'prompt' : s.toneHz !== undefined ? 'tone' : s.digits !== undefined ? 'digits' : 'prompt';
    const kindSel = el('select', { 'aria-label': 'Sound', on: { change: () => {
      n.say[0] = kindSel.value === 'tone' ? { toneHz: 440, ms: 500 } : kindSel.value === 'digits' ? { digits: '1' } : { prompt: prompts[0]?.name || '' };
      changed();
    } } }, ...['prompt', 'tone', 'digits'].map((k) => el('option', { value: k }, k)));
    kindSel.value = kind;
    let value;
    if (kind === 'prompt') {
      value = el('select', { 'aria-label': 'Prompt', on: { change: () => { n.say[0] = { prompt: value.value }; changed(false); } } },
        ...prompts.map((p) => el('option', { value: p.name }, p.name)));
      if (s.prompt && !prompts.some((p) => p.name === s.prompt || p.id === s.prompt)) value.append(el('option', { value: s.prompt }, `${s.prompt} (missing)`));
      value.value = s.prompt ?? '';
      if (s.prompt === undefined) n.say[0] = { prompt: value.value };
    } else if (kind === 'tone') {
      value = el('span', { class: 'row' }, input(s.toneHz, (v) => { s.toneHz = v; }, { type: 'number', min: 50, max: 4000, 'aria-label': 'Hz' }), 'Hz',
        input(s.ms, (v) => { s.ms = v; }, { type: 'number', min: 20, max: 10000, 'aria-label': 'ms' }), 'ms');
    } else {
      value = input(s.digits, (v) => { s.digits = v; }, { 'aria-label': 'Digits' });
    }
    return field('Plays', el('span', { class: 'row' }, kindSel, value));
  }

  /** key → node pairs (menu choices, CRM answers). */
  function pairs(n, prop, keyLabel) {
    const m = (n[prop] ||= {});
    const rows = Object.entries(m).map(([k, to]) => el('div', { class: 'row pair', 'data-key': k },
      el('span', {}, `${keyLabel} ${k} →`),
      branch(to, (v) => { m[k] = v; }, { optional: false, label: `${keyLabel} ${k}` }),
      el('button', { type: 'button', class: 'link', on: { click: () => { delete m[k]; changed(); } } }, 'remove')));
    const key = el('input', { size: 4, 'aria-label': `New ${keyLabel}`, placeholder: keyLabel });
    const add = el('button', { type: 'button', on: { click: () => {
      if (key.value.trim()) m[key.value.trim()] = ids()[0];
      changed();
    } } }, `Add ${keyLabel}`);
    return el('div', { class: 'pairs' }, ...rows, el('div', { class: 'row' }, key, add));
  }

  function nodeFields(n) {
    const out = [];
    const next = (prop, text, optional = true) => out.push(field(text, branch(n[prop], (v) => { n[prop] = v || undefined; }, { optional, label: `${n.id} ${text}` })));
    const num = (prop, text, attrs) => out.push(field(text, input(n[prop], (v) => { n[prop] = v || undefined; }, { type: 'number', ...attrs })));
    const text = (prop, label) => out.push(field(label, input(n[prop], (v) => { n[prop] = v || undefined; })));
    switch (n.kind) {
      case 'play': out.push(soundEditor(n)); next('next', 'Then', false); break;
      case 'menu':
        out.push(soundEditor(n), pairs(n, 'choices', 'key'));
        num('timeoutSeconds', 'Timeout (s)', { min: 0, max: 60 }); num('retries', 'Retries', { min: 0, max: 5 });
        next('onTimeout', 'On timeout'); next('onInvalid', 'On a wrong key');
        break;
      case 'collect':
        out.push(soundEditor(n)); text('var', 'Variable'); num('maxDigits', 'Digits', { min: 1, max: 32 }); text('pattern', 'Pattern');
        next('next', 'Then', false); next('onTimeout', 'On timeout'); next('onInvalid', 'On invalid input');
        break;
      case 'route': {
        const to = (n.to ||= { kind: 'extension', target: '' });
        const kind = el('select', { 'aria-label': 'Route to', on: { change: () => { to.kind = kind.value; changed(false); } } },
          ...['queue', 'extension', 'number', 'flow'].map((k) => el('option', { value: k }, k)));
        kind.value = to.kind;
        out.push(field('Route to', el('span', { class: 'row' }, kind, input(to.target, (v) => { to.target = v; }, { 'aria-label': 'Target', placeholder: '1001' }))));
        break;
      }
      case 'set':
        out.push(field('Values (name=value, …)', input(Object.entries(n.values || {}).map(([k, v]) => `${k}=${v}`).join(', '), (v) => {
          n.values = Object.fromEntries(v.split(',').map((p) => p.split('=').map((x) => x.trim())).filter((p) => p[0]));
        })));
        next('next', 'Then', false);
        break;
      case 'webhook': text('event', 'Event'); next('next', 'Then', false); break;
      case 'condition':
        out.push(field('Holds when (JSON)', input(JSON.stringify(n.if || {}), (v) => { try { n.if = JSON.parse(v); } catch { /* kept until valid */ } })));
        next('then', 'Then', false); next('else', 'Else', false);
        break;
      case 'crm': out.push(pairs(n, 'answers', 'answer')); next('next', 'Other answers'); next('onTimeout', 'On timeout', false); break;
      default: break;
    }
    return out;
  }

  function nodeCard(n) {
    const kind = el('select', { 'aria-label': `${n.id} kind`, on: { change: () => {
      const keep = { id: n.id, kind: kind.value };
      Object.keys(n).forEach((k) => delete n[k]);
      Object.assign(n, keep);
      changed();
    } } }, ...KINDS.map((k) => el('option', { value: k }, k)));
    kind.value = n.kind;
    const start = draft.start === n.id;
    return el('li', { class: 'node card', 'data-node': n.id },
      el('div', { class: 'row' }, el('strong', {}, n.id), kind, start ? el('span', { class: 'badge' }, 'start') : '',
        el('span', { class: 'grow' }),
        start ? '' : el('button', { type: 'button', on: { click: () => { draft.start = n.id; changed(); } } }, 'Make start'),
        el('button', { type: 'button', class: 'danger', on: { click: () => {
          draft.nodes = draft.nodes.filter((x) => x !== n);
          changed();
        } } }, 'Remove')),
      ...nodeFields(n),
      el('p', { class: 'node-error', role: 'alert', 'data-testid': `node-error-${n.id}` }));
  }

  function render() {
    $('#ivr-nodes').replaceChildren(...draft.nodes.map(nodeCard));
    preview();
  }

  /** An edit: structural ones redraw the node list, all redraw the preview. */
  function changed(structural = true) {
    for (const p of document.querySelectorAll('#ivr-nodes .node-error')) p.textContent = '';
    if (structural) render(); else preview();
  }

  function preview() {
    const svg = drawFlow(draft, SVG_NS);
    svg.setAttribute('data-testid', 'ivr-graph');
    $('#ivr-graph').replaceChildren(svg);
  }

  function addNode(ev) {
    const f = ev.target;
    const id = f.elements.id.value.trim();
    if (ids().includes(id)) throw new Error(`There is a node ${id} already.`);
    draft.nodes.push({ id, kind: f.elements.kind.value });
    f.elements.id.value = '';
    changed();
    document.querySelector(`#ivr-nodes [data-node="${CSS.escape(id)}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  async function save() {
    draft.name = $('#ivr-flow-name').value.trim();
    const body = JSON.parse(JSON.stringify(draft)); // drops the undefined fields
    try {
      const v = isNew ? await api('POST', '/api/v1/ivr/flows', body) : await api('PUT', `/api/v1/ivr/flows/${encodeURIComponent(draft.id)}`, body);
      flash(`${v.flow.id} saved as version ${v.version}; new calls use it now.`);
      edit(v.flow, false);
      await load();
    } catch (err) {
      const at = (err.fields || []).find((f) => f.field.startsWith('nodes/'));
      const slot = at && document.querySelector(`[data-testid="node-error-${CSS.escape(at.field.slice(6))}"]`);
      if (!slot) throw err;
      slot.textContent = at.detail;
      slot.closest('.node').scrollIntoView({ block: 'nearest' });
      flash(`Not saved: ${err.message}`, 'error');
    }
  }

  async function loadVersions() {
    const page = await api('GET', `/api/v1/ivr/flows/${encodeURIComponent(draft.id)}/versions`);
    $('#ivr-versions-body').replaceChildren(...page.items.map((v) => el('tr', { 'data-version': v.version },
      el('td', {}, `v${v.version}`), el('td', {}, d.when(v.createdAt)), el('td', {}, v.createdBy), el('td', {}, `${v.flow.nodes.length} nodes`),
      el('td', {}, v.current ? el('strong', {}, 'current') : el('button', { type: 'button', on: { click: guarded(async () => {
        if (!confirm(`Make version ${v.version} current? New calls will use it.`)) return;
        const cur = await api('POST', `/api/v1/ivr/flows/${encodeURIComponent(draft.id)}/rollback`, { version: v.version });
        flash(`${cur.flow.id} rolled back to version ${cur.version}.`);
        edit(cur.flow, false);
        await load();
      }) } }, 'Roll back')))));
  }

  // ---- prompts ----

  async function loadPrompts() {
    prompts = (await api('GET', '/api/v1/prompts')).items;
    $('#prompts-body').replaceChildren(...prompts.map((p) => el('tr', { 'data-prompt': p.name },
      el('td', {}, p.name), el('td', {}, `${(p.durationMs / 1000).toFixed(1)} s`),
      el('td', {}, `${p.source.format} ${p.source.rate} Hz ${p.source.channels === 1 ? 'mono' : `${p.source.channels} ch`}`),
      el('td', {}, d.when(p.createdAt)),
      el('td', { class: 'actions' },
        el('button', { type: 'button', on: { click: guarded(() => play(p)) } }, '▶ Play'),
        d.isAdmin() ? el('button', { type: 'button', class: 'danger', on: { click: guarded(async () => {
          if (!confirm(`Delete prompt ${p.name}?`)) return;
          await api('DELETE', `/api/v1/prompts/${p.id}`);
          flash(`Prompt ${p.name} deleted.`);
          await loadPrompts();
        }) } }, 'Delete') : ''))));
  }

  /** The audio needs our Authorization header, so it is fetched and
   * handed to the <audio> element as a blob (prompts are small). */
  async function play(p) {
    const res = await api('GET', `/api/v1/prompts/${p.id}/audio`, undefined, { raw: true });
    if (audioURL) URL.revokeObjectURL(audioURL);
    audioURL = URL.createObjectURL(await res.blob());
    const audio = $('#prompt-audio');
    $('#prompt-player-title').textContent = `${p.name} · 8 kHz mono, as callers hear it`;
    $('#prompt-player').hidden = false;
    audio.src = audioURL;
    await audio.play().catch(() => {}); // a browser may want a gesture first; the controls are there
  }

  async function upload(ev) {
    const f = ev.target;
    const file = f.elements.file.files[0];
    if (!file) return;
    const form = new FormData();
    form.append('name', f.elements.name.value.trim() || file.name.replace(/\.[^.]*$/, ''));
    form.append('file', file);
    const p = await api('POST', '/api/v1/prompts', form);
    flash(`Prompt ${p.name} uploaded: ${(p.durationMs / 1000).toFixed(1)} s, from ${p.source.format} at ${p.source.rate} Hz.`);
    f.reset();
    await loadPrompts();
    if (draft) render();
  }

  function wire() {
    $('#ivr-new-form').addEventListener('submit', guarded(newFlow, $('#ivr-new-form')));
    $('#ivr-add-node').addEventListener('submit', guarded(addNode, $('#ivr-add-node')));
    $('#ivr-save').addEventListener('click', guarded(save));
    $('#prompt-form').addEventListener('submit', guarded(upload, $('#prompt-form')));
  }

  return { load, wire };
}
