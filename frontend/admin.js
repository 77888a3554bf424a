// admin.js: the admin console (/admin). Plain ES module, no build step,
// the same sign-in and tokens as the softphone (auth.js). Everything goes
// through the REST API of docs/admin.md; server text only ever reaches the
// page through textContent. Supervisors get the user list of their teams,
// read-only; super-admins also the tenants.

import { AuthSession, safeStorage } from './auth.js';
import { ivrTab } from './admin-ivr.js';

const $ = (sel, root = document) => root.querySelector(sel);
const auth = new AuthSession(safeStorage(() => sessionStorage));
let me = null; // GET /api/v1/me
let usersCursor = '';
let auditCursor = '';

/** An element with text children only. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}

class APIError extends Error {
  constructor(problem, status) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.fields = problem?.errors || [];
  }
}

/** A REST call with the current token; a refused token is refreshed once. */
async function api(method, path, body, { raw = false, contentType = 'application/json' } = {}) {
  for (let attempt = 0; ; attempt++) {
    const token = await auth.accessToken(attempt > 0);
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json, application/problem+json, text/csv' };
    let payload;
    if (body instanceof FormData) {
      payload = body; // the browser sets the multipart boundary
    } else if (body !== undefined) {
      headers['Content-Type'] = contentType;
      payload = contentType === 'application/json' ? JSON.stringify(body) : body;
    }
    const res = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
    if (res.status === 401 && attempt === 0) continue;
    if (res.status === 204) return null;
    if (!res.ok) throw new APIError(await res.json().catch(() => null), res.status);
    return raw ? res : res.json();
  }
}

/** Shows a message; secret values go in a <code> the user can copy. */
function flash(text, kind = 'ok', secret = '') {
  const box = $('#flash');
  const n = el('div', { class: `flash ${kind}`, 'data-testid': `flash-${kind}` }, el('span', {}, text));
  if (secret) n.append(' ', el('code', { 'data-testid': 'secret' }, secret), el('span', { class: 'muted' }, ' — shown only now; copy it.'));
  n.append(el('button', { type: 'button', class: 'link', on: { click: () => n.remove() } }, 'Dismiss'));
  box.replaceChildren(n);
}

/** Marks the fields a problem names and flashes its detail. */
function showError(err, form) {
  for (const i of form?.querySelectorAll('[aria-invalid]') || []) i.removeAttribute('aria-invalid');
  for (const f of err.fields || []) {
    const input = form?.elements[f.field];
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  const details = (err.fields || []).map((f) => `${f.field}: ${f.detail}`).join('; ');
  flash(details || err.message, 'error');
}

/** Wraps a handler so failures show instead of vanishing. */
const guarded = (fn, form) => async (ev) => {
  ev?.preventDefault?.();
  try { await fn(ev); } catch (err) { showError(err, form); }
};

const list = (s) => String(s || '').split(/[,;]/).map((x) => x.trim()).filter(Boolean);
const when = (t) => (t ? new Date(t).toLocaleString() : '');
const isAdmin = () => me?.role === 'admin';
const ivr = ivrTab({ api, el, flash, guarded, isAdmin, when });

// ---- sign-in ----

async function start() {
  $('#signin-form').addEventListener('submit', guarded(async (ev) => {
    const f = ev.target;
    await auth.login(f.tenant.value.trim(), f.login.value.trim(), f.password.value);
    f.password.value = '';
    await enter();
  }, $('#signin-form')));
  $('#sign-out').addEventListener('click', () => { auth.signOut(); location.reload(); });
  auth.addEventListener('expired', () => showSignIn());
  if (auth.restore()) {
    try { await enter(); return; } catch { auth.signOut(); }
  }
  showSignIn();
}

function showSignIn() {
  $('#console').hidden = true;
  $('#sign-out').hidden = true;
  $('#signin').hidden = false;
  const t = new URLSearchParams(location.search).get('tenant');
  if (t) $('#signin-form').tenant.value = t;
}

async function enter() {
  me = await api('GET', '/api/v1/me');
  if (me.role !== 'admin' && me.role !== 'supervisor') {
    auth.signOut();
    throw new Error('The console is for administrators and supervisors.');
  }
  $('#signin').hidden = true;
  $('#console').hidden = false;
  $('#sign-out').hidden = false;
  $('#who').textContent = `${me.username} · ${me.tenantId} · ${me.superAdmin ? 'super-admin' : me.role}`;
  for (const e of document.querySelectorAll('[data-admin]')) e.hidden = !isAdmin();
  for (const e of document.querySelectorAll('[data-super]')) e.hidden = !me.superAdmin;
  wire();
  await show('users');
}

// ---- tabs ----

const loaders = { users: loadUsers, numbers: loadNumbers, calls: loadCalls, ivr: () => ivr.load(), settings: loadSettings, keys: loadKeys, webhooks: loadWebhooks, audit: loadAudit, trunks: loadTrunks, tenants: loadTenants };

async function show(tab) {
  for (const b of document.querySelectorAll('#tabs button')) b.setAttribute('aria-current', b.dataset.tab === tab ? 'page' : 'false');
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${tab}`;
  try { await loaders[tab](); } catch (err) { showError(err); }
}

let wired = false;
function wire() {
  if (wired) return;
  wired = true;
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => show(b.dataset.tab));
  // A field marked invalid is unmarked as soon as it is edited.
  document.addEventListener('input', (ev) => ev.target.removeAttribute?.('aria-invalid'));
  const uf = $('#user-form');
  uf.addEventListener('submit', guarded(saveUser, uf));
  $('#user-cancel').addEventListener('click', resetUserForm);
  $('#user-search').addEventListener('input', debounce(() => loadUsers()));
  $('#user-role-filter').addEventListener('change', () => loadUsers());
  $('#users-more').addEventListener('click', guarded(() => loadUsers(true)));
  $('#import-form').addEventListener('submit', guarded(importUsers, $('#import-form')));
  $('#export-users').addEventListener('click', guarded(exportUsers));
  const nf = $('#number-form');
  nf.addEventListener('submit', guarded(saveNumber, nf));
  $('#number-cancel').addEventListener('click', resetNumberForm);
  const sf = $('#settings-form');
  sf.addEventListener('submit', guarded(saveSettings, sf));
  $('#key-form').addEventListener('submit', guarded(createKey, $('#key-form')));
  $('#webhook-form').addEventListener('submit', guarded(createWebhook, $('#webhook-form')));
  $('#audit-more').addEventListener('click', guarded(() => loadAudit(true)));
  $('#calls-more').addEventListener('click', guarded(() => loadCalls(true)));
  $('#tenant-form').addEventListener('submit', guarded(createTenant, $('#tenant-form')));
  $('#trunk-form').addEventListener('submit', guarded(createTrunk, $('#trunk-form')));
  ivr.wire();
}

function debounce(fn, ms = 250) {
  let t = 0;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

// ---- users ----

const skillsText = (skills) => (skills || []).map((s) => `${s.name}:${s.level}`).join(', ');

async function loadUsers(more = false) {
  const q = new URLSearchParams({ limit: '50' });
  if ($('#user-search').value) q.set('q', $('#user-search').value);
  if ($('#user-role-filter').value) q.set('role', $('#user-role-filter').value);
  if (more && usersCursor) q.set('cursor', usersCursor);
  const page = await api('GET', `/api/v1/users?${q}`);
  const body = $('#users-body');
  if (!more) body.replaceChildren();
  for (const u of page.items) body.append(userRow(u));
  usersCursor = page.nextCursor || '';
  $('#users-more').hidden = !usersCursor;
}

function userRow(u) {
  const actions = el('td', { class: 'actions' });
  if (isAdmin()) {
    actions.append(
      el('button', { type: 'button', on: { click: () => editUser(u) } }, 'Edit'),
      el('button', { type: 'button', on: { click: guarded(async () => {
        await api('POST', `/api/v1/users/${u.id}/${u.disabled ? 'enable' : 'disable'}`);
        flash(`${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`);
        await loadUsers();
      }) } }, u.disabled ? 'Enable' : 'Disable'),
      el('button', { type: 'button', on: { click: guarded(async () => {
        const r = await api('POST', `/api/v1/users/${u.id}/password`, {});
        flash(`New password for ${u.username}:`, 'ok', r.password);
      }) } }, 'Reset password'),
      el('button', { type: 'button', class: 'danger', on: { click: guarded(async () => {
        if (!confirm(`Delete ${u.username}? This cannot be undone.`)) return;
        await api('DELETE', `/api/v1/users/${u.id}`);
        flash(`${u.username} deleted.`);
        await loadUsers();
      }) } }, 'Delete'),
    );
  }
  return el('tr', { 'data-user': u.username },
    el('td', {}, u.username), el('td', {}, u.displayName), el('td', {}, u.extension || '—'),
    el('td', {}, u.superAdmin ? 'admin (super)' : u.role), el('td', {}, (u.teams || []).join(', ')),
    el('td', {}, skillsText(u.skills)), el('td', {}, u.disabled ? 'disabled' : 'active'), actions);
}

function editUser(u) {
  const f = $('#user-form');
  f.elements.id.value = u.id;
  f.username.value = u.username;
  f.displayName.value = u.displayName;
  f.role.value = u.role;
  f.extension.value = u.extension;
  f.teams.value = (u.teams || []).join(', ');
  f.skills.value = skillsText(u.skills);
  f.querySelector('.new-only').hidden = true;
  $('#user-form-title').textContent = `Edit ${u.username}`;
  $('[data-testid="user-save"]').textContent = 'Save changes';
  $('#user-cancel').hidden = false;
  f.username.focus();
}

function resetUserForm() {
  const f = $('#user-form');
  f.reset();
  f.elements.id.value = '';
  f.querySelector('.new-only').hidden = false;
  $('#user-form-title').textContent = 'New user';
  $('[data-testid="user-save"]').textContent = 'Create user';
  $('#user-cancel').hidden = true;
}

function parseSkills(text) {
  return list(text).map((s) => {
    const [name, level] = s.split(':');
    return { name: name.trim(), level: Number(level ?? 50) };
  });
}

async function saveUser(ev) {
  const f = ev.target;
  const data = {
    username: f.username.value.trim(), displayName: f.displayName.value.trim(), role: f.role.value,
    extension: f.extension.value.trim(), teams: list(f.teams.value), skills: parseSkills(f.skills.value),
  };
  if (f.elements.id.value) {
    await api('PATCH', `/api/v1/users/${f.elements.id.value}`, data);
    flash(`${data.username} saved.`);
  } else {
    if (f.password.value) data.password = f.password.value;
    const u = await api('POST', '/api/v1/users', data);
    if (u.password) flash(`${u.username} created. Password:`, 'ok', u.password);
    else flash(`${u.username} created.`);
  }
  resetUserForm();
  await loadUsers();
}

async function importUsers(ev) {
  const file = ev.target.file.files[0];
  if (!file) return;
  const page = await api('POST', '/api/v1/users/import', await file.text(), { contentType: 'text/csv' });
  const lines = page.items.filter((u) => u.password).map((u) => `${u.username},${u.extension},${u.password}`);
  flash(`${page.items.length} users imported.${lines.length ? ' Generated passwords (username,extension,password):' : ''}`, 'ok', lines.join('\n'));
  ev.target.reset();
  await loadUsers();
}

async function exportUsers() {
  const res = await api('GET', '/api/v1/users/export', undefined, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: 'users.csv' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- numbers ----

const routeText = { extension: 'extension', crm: 'CRM decides', queue: 'queue', ivr: 'IVR menu' };

async function loadNumbers() {
  const page = await api('GET', '/api/v1/numbers');
  $('#numbers-body').replaceChildren(...page.items.map((n) => {
    const actions = el('td', { class: 'actions' });
    if (isAdmin()) {
      actions.append(
        el('button', { type: 'button', on: { click: () => editNumber(n) } }, 'Edit'),
        el('button', { type: 'button', class: 'danger', on: { click: guarded(async () => {
          if (!confirm(`Take ${n.number} out of service?`)) return;
          await api('DELETE', `/api/v1/numbers/${n.id}`);
          flash(`${n.number} deleted.`);
          await loadNumbers();
        }) } }, 'Delete'));
    }
    return el('tr', { 'data-number': n.number }, el('td', {}, n.number),
      el('td', {}, `${routeText[n.route] || n.route}${n.target ? ` “${n.target}”` : ''}`),
      el('td', {}, n.extension), el('td', {}, n.label || ''), actions);
  }));
}

function editNumber(n) {
  const f = $('#number-form');
  for (const k of ['id', 'number', 'route', 'extension', 'target', 'label']) f.elements[k].value = n[k] || '';
  $('#number-form-title').textContent = `Edit ${n.number}`;
  $('[data-testid="number-save"]').textContent = 'Save number';
  $('#number-cancel').hidden = false;
}

function resetNumberForm() {
  const f = $('#number-form');
  f.reset();
  f.elements.id.value = '';
  $('#number-form-title').textContent = 'Add a number';
  $('[data-testid="number-save"]').textContent = 'Add number';
  $('#number-cancel').hidden = true;
}

async function saveNumber(ev) {
  const f = ev.target;
  const data = Object.fromEntries(['number', 'route', 'extension', 'target', 'label'].map((k) => [k, f.elements[k].value.trim()]));
  const n = f.elements.id.value ? await api('PUT', `/api/v1/numbers/${f.elements.id.value}`, data) : await api('POST', '/api/v1/numbers', data);
  flash(`${n.number} now rings ${routeText[n.route]} ${n.extension}.`);
  resetNumberForm();
  await loadNumbers();
}

// ---- settings ----

const listFields = ['awayReasons', 'allowedOrigins', 'dialRules.allowPrefixes', 'dialRules.allowCountries'];
const numberFields = ['wrapUpSeconds', 'recordingRetentionDays', 'crm.lookupTimeoutMs', 'crm.routeTimeoutMs', 'dialRules.maxDigits'];

async function loadSettings() {
  const s = await api('GET', '/api/v1/settings');
  const f = $('#settings-form');
  const zones = $('#time-zones');
  if (!zones.children.length && Intl.supportedValuesOf) {
    zones.replaceChildren(...Intl.supportedValuesOf('timeZone').map((z) => Object.assign(document.createElement('option'), { value: z })));
  }
  for (const input of f.elements) {
    if (!input.name) continue;
    const [a, b] = input.name.split('.');
    const v = b ? s[a]?.[b] : s[a];
    if (input.type === 'checkbox') input.checked = Boolean(v);
    else if (input.type === 'password') input.placeholder = s.crm[`${b}Set`] ? 'set (leave empty to keep)' : 'not set';
    else input.value = Array.isArray(v) ? v.join(', ') : v ?? '';
  }
}

async function saveSettings(ev) {
  const f = ev.target;
  const out = { crm: {}, dialRules: {} };
  for (const input of f.elements) {
    if (!input.name) continue;
    let v = input.type === 'checkbox' ? input.checked : input.value.trim();
    if (listFields.includes(input.name)) v = list(v);
    if (numberFields.includes(input.name)) v = Number(v || 0);
    if (input.type === 'password' && v === '') continue; // keep the stored secret
    const [a, b] = input.name.split('.');
    if (b) out[a][b] = v; else out[a] = v;
  }
  await api('PATCH', '/api/v1/settings', out);
  flash('Settings saved. The next call uses them.');
  await loadSettings();
}

// ---- API keys, webhooks, audit, tenants ----

async function loadKeys() {
  const page = await api('GET', '/api/v1/api-keys');
  $('#keys-body').replaceChildren(...page.items.map((k) => el('tr', {}, el('td', {}, k.name), el('td', {}, when(k.createdAt)),
    el('td', {}, when(k.lastUsedAt) || 'never'), el('td', { class: 'actions' }, el('button', { type: 'button', class: 'danger', on: { click: guarded(async () => {
      if (!confirm(`Revoke ${k.name}? Integrations using it stop working.`)) return;
      await api('DELETE', `/api/v1/api-keys/${k.id}`);
      await loadKeys();
    }) } }, 'Revoke')))));
}

async function createKey(ev) {
  const k = await api('POST', '/api/v1/api-keys', { name: ev.target.elements.name.value.trim() });
  flash(`Key ${k.name} created:`, 'ok', k.password ? `${k.key}  (user ${k.username}, password ${k.password})` : k.key);
  ev.target.reset();
  await loadKeys();
}

async function loadWebhooks() {
  const page = await api('GET', '/api/v1/webhooks');
  $('#webhooks-body').replaceChildren(...page.items.map((w) => el('tr', {}, el('td', {}, w.url), el('td', {}, (w.events || []).join(', ') || 'all'),
    el('td', {}, w.consecutiveFailures), el('td', { class: 'actions' }, el('button', { type: 'button', class: 'danger', on: { click: guarded(async () => {
      if (!confirm(`Delete the webhook to ${w.url}?`)) return;
      await api('DELETE', `/api/v1/webhooks/${w.id}`);
      await loadWebhooks();
    }) } }, 'Delete')))));
}

async function createWebhook(ev) {
  const w = await api('POST', '/api/v1/webhooks', { url: ev.target.url.value.trim(), description: ev.target.description.value.trim() });
  flash(`Webhook added. Signing secret:`, 'ok', w.secret);
  ev.target.reset();
  await loadWebhooks();
}

let callsCursor = '';
const secs = (s) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;

async function loadCalls(more = false) {
  const q = new URLSearchParams({ limit: '25' });
  if (more && callsCursor) q.set('cursor', callsCursor);
  const page = await api('GET', `/api/v1/calls?${q}`);
  const rows = page.items.map((c) => {
    const rec = c.recording?.code
      ? el('button', { type: 'button', 'data-testid': 'play-button', on: { click: guarded(() => playRecording(c)) } }, `▶ ${secs(c.recording.durationSeconds)}`)
      : el('span', { class: 'muted' }, '—');
    return el('tr', { 'data-call': c.id }, el('td', {}, when(c.startedAt)), el('td', {}, c.from), el('td', {}, c.to),
      el('td', {}, (c.agents || []).map((a) => a.extension).join(', ')), el('td', {}, secs(c.durations?.talkSeconds || 0)), el('td', {}, rec));
  });
  if (more) $('#calls-body').append(...rows); else $('#calls-body').replaceChildren(...rows);
  callsCursor = page.nextCursor || '';
  $('#calls-more').hidden = !callsCursor;
}

/** Plays a call's recording: a short-lived link lets the audio element
 * fetch (and seek with Range requests) without our Authorization header. */
async function playRecording(c) {
  const link = await api('POST', `${c.recording.url}/play-link`);
  $('#player-title').textContent = `Recording · ${c.from} → ${c.to} · ${when(c.startedAt)}`;
  $('#player-pauses').replaceChildren(...(c.recordingPauses || []).map((p) => el('li', {},
    `Paused at ${p.offsetSeconds.toFixed(1)} s for ${p.durationSeconds.toFixed(1)} s by ${p.pausedBy}${p.resumedBy ? `, resumed by ${p.resumedBy}` : ''}`)));
  const audio = $('#player-audio');
  audio.src = link.url;
  $('#player').hidden = false;
  audio.load();
}

async function loadAudit(more = false) {
  const q = new URLSearchParams({ limit: '50' });
  if (more && auditCursor) q.set('cursor', auditCursor);
  const page = await api('GET', `/api/v1/audit?${q}`);
  const rows = page.items.map((a) => el('tr', {}, el('td', {}, when(a.at)), el('td', {}, a.actorName),
    el('td', {}, a.action), el('td', {}, a.target), el('td', { class: 'details' }, JSON.stringify(a.details))));
  if (more) $('#audit-body').append(...rows); else $('#audit-body').replaceChildren(...rows);
  auditCursor = page.nextCursor || '';
  $('#audit-more').hidden = !auditCursor;
}

async function loadTrunks() {
  const page = await api('GET', '/api/v1/trunks');
  $('#trunks-body').replaceChildren(...page.items.map((t) => el('tr', { 'data-trunk': t.name }, el('td', {}, t.name), el('td', {}, t.address),
    el('td', {}, t.transport), el('td', {}, (t.allowFrom || []).join(', ') || 'its address'), el('td', {}, t.register ? 'yes' : 'no'),
    el('td', { class: 'actions' }, el('button', { type: 'button', class: 'danger', on: { click: guarded(async () => {
      if (!confirm(`Remove trunk ${t.name}? Its calls are refused from the next one.`)) return;
      await api('DELETE', `/api/v1/trunks/${t.id}`);
      await loadTrunks();
    }) } }, 'Remove')))));
}

async function createTrunk(ev) {
  const f = ev.target;
  const v = (k) => f.elements[k].value.trim();
  const t = await api('POST', '/api/v1/trunks', {
    name: v('name'), address: v('address'), transport: v('transport'), allowFrom: list(v('allowFrom')),
    username: v('username'), password: f.elements.password.value, callerId: v('callerId'), register: f.elements.register.checked,
  });
  flash(`Trunk ${t.name} added.`);
  f.reset();
  await loadTrunks();
}

async function loadTenants() {
  const page = await api('GET', '/api/v1/tenants');
  $('#tenants-body').replaceChildren(...page.items.map((t) => el('tr', {}, el('td', {}, t.id), el('td', {}, t.name), el('td', {}, when(t.createdAt)))));
}

async function createTenant(ev) {
  const f = ev.target;
  const t = await api('POST', '/api/v1/tenants', { id: f.elements.id.value.trim(), name: f.elements.name.value.trim(), admin: { username: f.admin.value.trim() } });
  flash(`Tenant ${t.id} created. ${t.admin.username}'s password:`, 'ok', t.admin.password);
  f.reset();
  await loadTenants();
}

start();
