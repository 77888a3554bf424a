// ivr-graph.js: a flow's preview as SVG. Nodes are laid out in rows by
// their distance from the start node (breadth first), edges run from a
// node's bottom to its target's top, and an edge back up (a retry loop)
// bends round the side. A branch to a node that does not exist ends in a
// red stub. Small on purpose: a picture to check a flow by, not an editor.

const W = 132;
const H = 42;
const GAP_X = 28;
const GAP_Y = 58;
const PAD = 24;

/** Where each node goes: [target, label] pairs. */
export function edges(n) {
  const out = [];
  const add = (to, label = '') => { if (to) out.push([to, label]); };
  for (const [k, to] of Object.entries(n.choices || {}).sort()) add(to, k);
  for (const [k, to] of Object.entries(n.answers || {}).sort()) add(to, k);
  add(n.next);
  add(n.then, 'then');
  add(n.else, 'else');
  add(n.onTimeout, 'timeout');
  add(n.onInvalid, 'invalid');
  if (n.kind === 'route' && n.to?.kind === 'flow') add(`flow:${n.to.target}`, '');
  return out;
}

/**
 * Rows by breadth-first distance from the start; unreachable nodes last.
 * Within a row nodes stand in the order the walk found them (a menu's
 * key 1 left of key 2), so edges rarely cross.
 */
export function layers(flow) {
  const byId = new Map(flow.nodes.map((n) => [n.id, n]));
  const depth = new Map();
  const todo = byId.has(flow.start) ? [flow.start] : [];
  depth.set(flow.start, 0);
  while (todo.length) {
    const id = todo.shift();
    for (const [to] of edges(byId.get(id))) {
      if (byId.has(to) && !depth.has(to)) {
        depth.set(to, depth.get(id) + 1);
        todo.push(to);
      }
    }
  }
  const found = [...depth.keys()];
  const rank = (n) => (depth.has(n.id) ? found.indexOf(n.id) : found.length);
  const last = Math.max(0, ...depth.values()) + 1;
  const rows = [];
  for (const n of [...flow.nodes].sort((a, b) => rank(a) - rank(b))) (rows[depth.has(n.id) ? depth.get(n.id) : last] ||= []).push(n);
  return rows.filter(Boolean);
}

function describe(n) {
  const s = n.say?.[0];
  const sound = s?.prompt ? `“${s.prompt}”` : s?.toneHz ? `${s.toneHz} Hz` : s?.digits ? `digits ${s.digits}` : '';
  switch (n.kind) {
    case 'route': return `route → ${n.to?.kind || ''} ${n.to?.target || ''}`;
    case 'play': case 'menu': case 'collect': return `${n.kind} ${sound}`;
    default: return n.kind;
  }
}

/** Draws flow as an <svg> element (ns: the SVG namespace). */
export function drawFlow(flow, ns) {
  const mk = (tag, attrs = {}, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const rows = layers(flow);
  const widest = Math.max(1, ...rows.map((r) => r.length));
  const width = PAD * 2 + widest * W + (widest - 1) * GAP_X;
  const height = PAD * 2 + rows.length * H + (rows.length - 1) * GAP_Y;
  const pos = new Map();
  rows.forEach((row, y) => {
    const rowWidth = row.length * W + (row.length - 1) * GAP_X;
    row.forEach((n, i) => pos.set(n.id, { x: (width - rowWidth) / 2 + i * (W + GAP_X), y: PAD + y * (H + GAP_Y) }));
  });
  const svg = mk('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `Graph of flow ${flow.id}` });
  const defs = mk('defs');
  const marker = mk('marker', { id: 'ivr-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(mk('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }));
  defs.append(marker);
  svg.append(defs);

  const edgeLayer = mk('g', { class: 'edges' });
  const nodeLayer = mk('g', { class: 'nodes' });
  for (const n of flow.nodes) {
    const from = pos.get(n.id);
    const outs = edges(n);
    outs.forEach(([to, label], i) => {
      const sx = from.x + (W * (i + 1)) / (outs.length + 1);
      const sy = from.y + H;
      const target = pos.get(to);
      let d;
      let lx;
      let ly;
      let cls = 'edge';
      if (!target) {
        d = `M${sx},${sy} l0,${GAP_Y / 2}`;
        [lx, ly] = [sx + 3, sy + GAP_Y / 2 + 10];
        cls = to.startsWith('flow:') ? 'edge' : 'edge missing';
        if (cls !== 'edge') label = `${label ? `${label}: ` : ''}${to}?`;
        else label = to.slice(5);
      } else if (target.y > from.y) {
        const tx = target.x + W / 2;
        const ty = target.y;
        d = `M${sx},${sy} C${sx},${sy + GAP_Y / 2} ${tx},${ty - GAP_Y / 2} ${tx},${ty}`;
        [lx, ly] = [(sx + tx) / 2 + 3, (sy + ty) / 2];
      } else { // back up, or sideways in the same row: round the right side
        const tx = target.x + W;
        const ty = target.y + H / 2;
        const bend = Math.max(sx, tx) + GAP_X;
        d = `M${sx},${sy} C${sx},${sy + 24} ${bend},${sy + 24} ${bend},${(sy + ty) / 2} S${tx + 24},${ty} ${tx},${ty}`;
        [lx, ly] = [bend + 3, (sy + ty) / 2];
      }
      edgeLayer.append(mk('path', { d, class: cls, 'marker-end': 'url(#ivr-arrow)', 'data-edge': `${n.id}->${to}` }));
      if (label) edgeLayer.append(mk('text', { x: lx, y: ly, class: 'edge-label' }, label));
    });
    const g = mk('g', { class: `node ${n.kind}${flow.start === n.id ? ' start' : ''}`, 'data-node': n.id, transform: `translate(${from.x},${from.y})` });
    g.append(mk('rect', { width: W, height: H, rx: 7 }),
      mk('text', { x: 8, y: 17, class: 'node-id' }, n.id),
      mk('text', { x: 8, y: 33, class: 'node-kind' }, describe(n).slice(0, 22)));
    nodeLayer.append(g);
  }
  svg.append(edgeLayer, nodeLayer);
  return svg;
}
