// Spool web console: a hash-routed single page over the admin plane's REST API (/v1/...).
// Plain DOM (text is always set with textContent, never parsed as HTML), inline SVG charts, one
// poll loop: /v1/stats every tick (rates are differences between two cumulative samples), the
// readiness probe, and the open view's own refresh (e.g. a group's lag, kept as a time series).

const query = new URLSearchParams(location.search);
/** Poll interval; `?poll=ms` on the page URL overrides it (250 ms .. 60 s). */
const POLL_MS = Math.min(60_000, Math.max(250, Number(query.get('poll')) || 3000));
/** Samples kept per chart series: bounded memory however long the page stays open. */
const HISTORY = 120;
const SERIES_MAX = 8;
const COLORS = ['#0b5cad', '#c4410c', '#116329', '#8250df', '#bf3989', '#7d4e00', '#1b7c83', '#57606a'];

// ---------------------------------------------------------------------------------------------
// DOM helpers

/** h('a', { href, class, 'data-testid': x, onclick }, child, ...): children are nodes or text. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'value' && 'value' in el) el.value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function table({ testid, caption, columns, rows, empty = 'None.' }) {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : undefined, text: c.label })));
  const body = rows.length === 0
    ? [h('tr', {}, h('td', { colspan: columns.length, class: 'muted', text: empty }))]
    : rows;
  return h('table', { 'data-testid': testid }, caption ? h('caption', { text: caption }) : null, h('thead', {}, head), h('tbody', {}, body));
}

function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([label, value, testid]) => [
    h('dt', { text: label }),
    h('dd', { 'data-testid': testid }, value),
  ]));
}

// ---------------------------------------------------------------------------------------------
// Formatting

const enc = encodeURIComponent;

function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  let v = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function fmtNum(n) {
  if (n === null || n === undefined || n === '') return '–';
  const v = Number(n);
  if (!Number.isFinite(v)) return String(n);
  if (Number.isInteger(v)) return String(v);
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function fmtTime(ms) {
  if (ms === null || ms === undefined || Number(ms) < 0) return '–';
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function fmtClock(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

function timeMs(v) {
  if (typeof v === 'number') return v;
  const parsed = Date.parse(String(v));
  return Number.isFinite(parsed) ? parsed : Date.now();
}

function nullable(v) {
  return v === null || v === undefined ? h('span', { class: 'null', text: 'null' }) : String(v);
}

/** A key or value as the API returns it: text, or base64 of bytes that are not UTF-8. */
function payload(value, encoding) {
  if (value === null || value === undefined) return h('span', { class: 'null', text: 'null' });
  const text = String(value);
  const badge = encoding && encoding !== 'utf8' && encoding !== 'utf-8' && encoding !== 'string' ? h('span', { class: 'badge', text: encoding }) : null;
  if (text.length <= 200) return h('span', {}, text, badge);
  return h('details', {}, h('summary', {}, `${text.slice(0, 120)}… (${text.length} chars)`, badge), text);
}

function headersCell(headers) {
  if (!Array.isArray(headers) || headers.length === 0) return h('span', { class: 'muted', text: '–' });
  return headers.map((hd, i) => [i > 0 ? h('br') : null, `${hd.key}=`, nullable(hd.value)]);
}

// ---------------------------------------------------------------------------------------------
// REST API

async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) {
    let detail = '';
    try {
      const body = await res.json();
      detail = body.message ?? body.error ?? '';
    } catch {
      // not JSON: the status says enough
    }
    throw new Error(`GET ${path}: HTTP ${res.status}${detail ? ` — ${detail}` : ''}`);
  }
  return res.json();
}

function showError(err) {
  const box = document.getElementById('error');
  if (err === null) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.hidden = false;
  box.textContent = err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Time series kept by the page: topic rates from /v1/stats, group lag from /v1/groups/:group

/** topic name → [{ t, bytesIn, messagesIn, bytesOut }] (per second) */
const topicRates = new Map();
/** [{ t, bytesIn, messagesIn, bytesOut }] summed over all topics */
const totalRates = [];
/** group id → [{ t, total, byTopic: { topic: lag } }] */
const lagHistory = new Map();
let lastStats = null;

function pushBounded(list, item) {
  list.push(item);
  if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
}

async function pollStats() {
  const stats = await api('/v1/stats');
  const t = timeMs(stats.time);
  const current = { t, topics: new Map(stats.topics.map((x) => [x.name, x])) };
  const prev = lastStats;
  lastStats = current;
  if (prev === null || t <= prev.t) return;
  const dt = (t - prev.t) / 1000;
  const total = { t, bytesIn: 0, messagesIn: 0, bytesOut: 0 };
  for (const [name, cur] of current.topics) {
    const before = prev.topics.get(name);
    if (before === undefined) continue;
    // A counter that went backwards (topic re-created, broker restarted) restarts the series.
    const rate = (k) => Math.max(0, Number(cur[k]) - Number(before[k])) / dt;
    const r = { t, bytesIn: rate('bytesIn'), messagesIn: rate('messagesIn'), bytesOut: rate('bytesOut') };
    const list = topicRates.get(name) ?? [];
    pushBounded(list, r);
    topicRates.set(name, list);
    total.bytesIn += r.bytesIn;
    total.messagesIn += r.messagesIn;
    total.bytesOut += r.bytesOut;
  }
  for (const name of topicRates.keys()) if (!current.topics.has(name)) topicRates.delete(name);
  pushBounded(totalRates, total);
}

function latestRate(name) {
  const list = topicRates.get(name);
  return list && list.length > 0 ? list[list.length - 1] : null;
}

function recordLag(group) {
  const byTopic = {};
  let total = 0;
  for (const o of group.offsets ?? []) {
    const lag = Number(o.lag);
    if (!Number.isFinite(lag)) continue;
    byTopic[o.topic] = (byTopic[o.topic] ?? 0) + lag;
    total += lag;
  }
  if (Number.isFinite(Number(group.totalLag))) total = Number(group.totalLag);
  const list = lagHistory.get(group.groupId) ?? [];
  pushBounded(list, { t: Date.now(), total, byTopic });
  lagHistory.set(group.groupId, list);
}

// ---------------------------------------------------------------------------------------------
// Charts: inline SVG line charts, one polyline per series, y from 0 to a rounded maximum.

function niceMax(v) {
  if (!(v > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * mag >= v) return step * mag;
  return 10 * mag;
}

/**
 * series: [{ name, points: [{ t, v }] }]; format: value → label. The SVG is an image with a text
 * alternative (latest value of each series), so a screen reader gets the numbers too.
 */
function lineChart({ title, testid, series, format, emptyText }) {
  const W = 640;
  const H = 200;
  const L = 70;
  const R = 12;
  const T = 10;
  const B = 24;
  const shown = series.filter((x) => x.points.length > 0);
  const all = shown.flatMap((x) => x.points);
  const box = h('figure', { class: 'chart', 'data-testid': testid, 'data-series': shown.length, 'data-points': all.length });
  box.append(h('h3', { text: title }));
  if (all.length < 2) {
    box.append(h('p', { class: 'empty', text: emptyText ?? `Collecting data: a point every ${POLL_MS / 1000} s.` }));
    return box;
  }
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(t0 + 1, ...all.map((p) => p.t));
  const yMax = niceMax(Math.max(...all.map((p) => p.v)));
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / yMax) * (H - T - B);
  const summary = shown.map((sr) => `${sr.name}: ${format(sr.points[sr.points.length - 1].v)}`).join('; ');
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}. Latest: ${summary}` });
  svg.append(s('title', { text: `${title}. Latest: ${summary}` }));
  const grid = s('g', { class: 'grid' });
  const axis = s('g', { class: 'axis' });
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    grid.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    axis.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', text: format(v) }));
  }
  axis.append(s('text', { x: L, y: H - 6, 'text-anchor': 'start', text: fmtClock(t0) }));
  axis.append(s('text', { x: W - R, y: H - 6, 'text-anchor': 'end', text: fmtClock(t1) }));
  svg.append(grid, axis);
  shown.forEach((sr, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = sr.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    svg.append(s('polyline', { points: pts, fill: 'none', stroke: color, 'stroke-width': 2, 'data-series': sr.name }));
    if (sr.points.length === 1) svg.append(s('circle', { cx: x(sr.points[0].t), cy: y(sr.points[0].v), r: 3, fill: color }));
  });
  box.append(svg);
  box.append(h('ul', { class: 'legend' }, shown.map((sr, i) => h('li', {},
    h('span', { class: 'swatch', style: `background:${COLORS[i % COLORS.length]}`, 'aria-hidden': 'true' }),
    `${sr.name} (${format(sr.points[sr.points.length - 1].v)})`))));
  return box;
}

/** The busiest topics (by their largest rate in the window) as chart series of one metric. */
function topicSeries(metric, names) {
  const candidates = (names ?? [...topicRates.keys()]).filter((n) => topicRates.has(n));
  const peak = (n) => Math.max(0, ...topicRates.get(n).map((r) => r[metric]));
  return candidates
    .sort((a, b) => peak(b) - peak(a) || a.localeCompare(b))
    .slice(0, SERIES_MAX)
    .map((n) => ({ name: n, points: topicRates.get(n).map((r) => ({ t: r.t, v: r[metric] })) }));
}

const perSecond = (fmt) => (v) => `${fmt(v)}/s`;

// ---------------------------------------------------------------------------------------------
// Views. Each builds its page into `main` and returns { refresh } (called now and every tick).

function link(href, text, attrs = {}) {
  return h('a', { href, ...attrs }, text);
}

function topicHref(name) {
  return `#/topics/${enc(name)}`;
}

function groupHref(id) {
  return `#/groups/${enc(id)}`;
}

function recordsHref(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  return `#/records?${q.toString()}`;
}

function viewBrokers(main) {
  main.append(h('h1', { text: 'Brokers' }));
  const region = h('section', { 'aria-label': 'Cluster' });
  main.append(region);
  return {
    async refresh() {
      const b = await api('/v1/brokers');
      const rows = b.brokers.map((n) => h('tr', { 'data-testid': 'broker-row', 'data-node-id': n.nodeId },
        h('td', { class: 'num' }, String(n.nodeId), n.nodeId === b.controllerId ? h('span', { class: 'badge', text: 'controller' }) : null),
        h('td', { class: 'mono', text: n.host }),
        h('td', { class: 'num', text: n.port }),
        h('td', {}, nullable(n.rack))));
      region.replaceChildren(
        facts([
          ['Cluster id', h('span', { class: 'mono', text: b.clusterId }), 'cluster-id'],
          ['Controller', String(b.controllerId), 'controller-id'],
          ['Brokers', String(b.brokers.length), 'broker-count'],
        ]),
        table({
          testid: 'brokers-table',
          caption: 'Nodes',
          columns: [{ label: 'Node id', num: true }, { label: 'Host' }, { label: 'Port', num: true }, { label: 'Rack' }],
          rows,
        }),
      );
    },
  };
}

function viewTopics(main) {
  main.append(h('h1', { text: 'Topics' }));
  const charts = h('section', { class: 'cards', 'aria-label': 'Throughput' });
  const list = h('section', { 'aria-label': 'Topic list' });
  const showInternal = h('input', { type: 'checkbox', id: 'show-internal' });
  main.append(
    h('h2', { text: 'Throughput' }),
    charts,
    h('h2', { text: 'All topics' }),
    h('p', {}, h('label', {}, showInternal, ' Show internal topics')),
    list,
  );
  let topics = [];
  const render = () => {
    const visible = topics.filter((tp) => showInternal.checked || !tp.internal);
    const names = visible.map((tp) => tp.name);
    charts.replaceChildren(
      lineChart({ title: 'Bytes in per second', testid: 'chart-bytes-in', series: topicSeries('bytesIn', names), format: perSecond(fmtBytes) }),
      lineChart({ title: 'Messages in per second', testid: 'chart-messages-in', series: topicSeries('messagesIn', names), format: perSecond(fmtNum) }),
    );
    const rows = visible.map((tp) => {
      const r = latestRate(tp.name);
      return h('tr', { 'data-testid': 'topic-row', 'data-topic': tp.name },
        h('td', {}, link(topicHref(tp.name), tp.name), tp.internal ? h('span', { class: 'badge', text: 'internal' }) : null),
        h('td', { class: 'num', 'data-col': 'partitions', text: tp.partitions }),
        h('td', { class: 'num', text: tp.replicationFactor }),
        h('td', { class: 'num', text: r ? `${fmtBytes(r.bytesIn)}/s` : '–' }),
        h('td', { class: 'num', text: r ? `${fmtNum(r.messagesIn)}/s` : '–' }),
        h('td', { class: 'num', text: r ? `${fmtBytes(r.bytesOut)}/s` : '–' }),
        h('td', {}, link(recordsHref({ topic: tp.name }), 'browse')));
    });
    list.replaceChildren(table({
      testid: 'topics-table',
      columns: [{ label: 'Topic' }, { label: 'Partitions', num: true }, { label: 'Replication factor', num: true },
        { label: 'Bytes in', num: true }, { label: 'Messages in', num: true }, { label: 'Bytes out', num: true }, { label: 'Records' }],
      rows,
      empty: 'No topics.',
    }));
  };
  showInternal.addEventListener('change', render);
  return {
    async refresh() {
      const res = await api('/v1/topics');
      topics = [...res.topics].sort((a, b) => a.name.localeCompare(b.name));
      render();
    },
  };
}

function viewTopic(main, [name]) {
  main.append(h('h1', {}, 'Topic ', h('span', { class: 'mono', 'data-testid': 'topic-name', text: name })));
  const summary = h('section', { 'aria-label': 'Summary' });
  const charts = h('section', { class: 'cards', 'aria-label': 'Throughput' });
  const parts = h('section', { 'aria-label': 'Partitions' });
  const configs = h('section', { 'aria-label': 'Configuration' });
  main.append(summary, h('h2', { text: 'Throughput' }), charts, h('h2', { text: 'Partitions' }), parts, h('h2', { text: 'Configuration' }), configs);
  return {
    async refresh() {
      const tp = await api(`/v1/topics/${enc(name)}`);
      const partitions = [...tp.partitions].sort((a, b) => a.partition - b.partition);
      const totalSize = partitions.reduce((n, p) => n + Number(p.sizeBytes ?? 0), 0);
      const totalMessages = partitions.reduce((n, p) => n + Math.max(0, Number(p.highWatermark) - Number(p.logStartOffset)), 0);
      summary.replaceChildren(facts([
        ['Topic id', h('span', { class: 'mono', text: tp.topicId ?? '–' }), 'topic-id'],
        ['Internal', tp.internal ? 'yes' : 'no', 'topic-internal'],
        ['Partitions', String(partitions.length), 'topic-partitions'],
        ['Records retained', String(totalMessages), 'topic-records'],
        ['Size on disk', fmtBytes(totalSize), 'topic-size'],
      ]));
      const rates = topicRates.get(name) ?? [];
      charts.replaceChildren(
        lineChart({ title: 'Bytes per second', testid: 'chart-topic-bytes', format: perSecond(fmtBytes), series: [
          { name: 'in', points: rates.map((r) => ({ t: r.t, v: r.bytesIn })) },
          { name: 'out', points: rates.map((r) => ({ t: r.t, v: r.bytesOut })) },
        ] }),
        lineChart({ title: 'Messages in per second', testid: 'chart-topic-messages', format: perSecond(fmtNum), series: [
          { name: 'in', points: rates.map((r) => ({ t: r.t, v: r.messagesIn })) },
        ] }),
      );
      parts.replaceChildren(table({
        testid: 'partitions-table',
        columns: [{ label: 'Partition', num: true }, { label: 'Leader', num: true }, { label: 'Replicas' }, { label: 'ISR' },
          { label: 'Log start offset', num: true }, { label: 'High watermark', num: true }, { label: 'Retained', num: true }, { label: 'Size', num: true }, { label: 'Records' }],
        rows: partitions.map((p) => h('tr', { 'data-testid': 'partition-row', 'data-partition': p.partition },
          h('td', { class: 'num', text: p.partition }),
          h('td', { class: 'num', 'data-col': 'leader', text: p.leader }),
          h('td', { text: (p.replicas ?? []).join(', ') }),
          h('td', { 'data-col': 'isr', text: (p.isr ?? []).join(', ') }),
          h('td', { class: 'num', 'data-col': 'log-start-offset', text: p.logStartOffset }),
          h('td', { class: 'num', 'data-col': 'high-watermark', text: p.highWatermark }),
          h('td', { class: 'num', text: Math.max(0, Number(p.highWatermark) - Number(p.logStartOffset)) }),
          h('td', { class: 'num', 'data-col': 'size', text: fmtBytes(p.sizeBytes) }),
          h('td', {}, link(recordsHref({ topic: name, partition: p.partition, offset: p.logStartOffset }), 'browse')))),
      }));
      const entries = Object.entries(tp.configs ?? {}).sort(([a], [b]) => a.localeCompare(b));
      configs.replaceChildren(table({
        testid: 'configs-table',
        columns: [{ label: 'Setting' }, { label: 'Value' }],
        rows: entries.map(([k, v]) => h('tr', {},
          h('td', { class: 'mono', text: k }),
          h('td', { class: 'mono' }, v !== null && typeof v === 'object' ? JSON.stringify(v) : nullable(v)))),
        empty: 'No settings reported.',
      }));
    },
  };
}

function viewGroups(main) {
  main.append(h('h1', { text: 'Consumer groups' }));
  const list = h('section', { 'aria-label': 'Group list' });
  main.append(list);
  return {
    async refresh() {
      const res = await api('/v1/groups');
      const groups = [...res.groups].sort((a, b) => a.groupId.localeCompare(b.groupId));
      list.replaceChildren(table({
        testid: 'groups-table',
        columns: [{ label: 'Group' }, { label: 'State' }, { label: 'Protocol type' }, { label: 'Members', num: true }],
        rows: groups.map((g) => h('tr', { 'data-testid': 'group-row', 'data-group': g.groupId },
          h('td', {}, link(groupHref(g.groupId), g.groupId)),
          h('td', { text: g.state }),
          h('td', {}, nullable(g.protocolType || null)),
          h('td', { class: 'num', text: Array.isArray(g.members) ? g.members.length : g.members }))),
        empty: 'No consumer groups.',
      }));
    },
  };
}

function viewGroup(main, [groupId]) {
  main.append(h('h1', {}, 'Group ', h('span', { class: 'mono', 'data-testid': 'group-id', text: groupId })));
  const summary = h('section', { 'aria-label': 'Summary' });
  const chart = h('section', { class: 'cards', 'aria-label': 'Lag over time' });
  const members = h('section', { 'aria-label': 'Members' });
  const offsets = h('section', { 'aria-label': 'Offsets and lag' });
  main.append(summary, h('h2', { text: 'Lag over time' }), chart, h('h2', { text: 'Members' }), members, h('h2', { text: 'Offsets and lag' }), offsets);
  return {
    async refresh() {
      const g = await api(`/v1/groups/${enc(groupId)}`);
      recordLag(g);
      const offs = [...(g.offsets ?? [])].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      const totalLag = g.totalLag ?? offs.reduce((n, o) => n + (Number.isFinite(Number(o.lag)) ? Number(o.lag) : 0), 0);
      summary.replaceChildren(facts([
        ['State', g.state, 'group-state'],
        ['Protocol type', nullable(g.protocolType || null), 'group-protocol-type'],
        ['Assignor', nullable(g.protocol || null), 'group-protocol'],
        ['Members', String((g.members ?? []).length), 'group-member-count'],
        ['Total lag', h('span', { class: Number(totalLag) > 0 ? 'lag-pos' : 'lag-zero', text: totalLag }), 'group-total-lag'],
      ]));
      const history = lagHistory.get(groupId) ?? [];
      const topicNames = [...new Set(history.flatMap((p) => Object.keys(p.byTopic)))].sort().slice(0, SERIES_MAX - 1);
      chart.replaceChildren(lineChart({
        title: 'Lag (records behind the log end)',
        testid: 'chart-group-lag',
        format: fmtNum,
        emptyText: `Collecting data: a point every ${POLL_MS / 1000} s while this page is open.`,
        series: [
          { name: 'total', points: history.map((p) => ({ t: p.t, v: p.total })) },
          ...(topicNames.length > 1 ? topicNames.map((tn) => ({ name: tn, points: history.map((p) => ({ t: p.t, v: p.byTopic[tn] ?? 0 })) })) : []),
        ],
      }));
      members.replaceChildren(table({
        testid: 'members-table',
        columns: [{ label: 'Member id' }, { label: 'Client id' }, { label: 'Host' }, { label: 'Assigned partitions' }],
        rows: (g.members ?? []).map((m) => h('tr', { 'data-testid': 'member-row', 'data-member-id': m.memberId },
          h('td', { class: 'mono', text: m.memberId }),
          h('td', { text: m.clientId }),
          h('td', { class: 'mono', text: m.host }),
          h('td', { class: 'mono', text: (m.assignments ?? []).map((a) => `${a.topic}-${a.partition}`).join(', ') || '–' }))),
        empty: 'No active members.',
      }));
      offsets.replaceChildren(table({
        testid: 'lag-table',
        columns: [{ label: 'Topic' }, { label: 'Partition', num: true }, { label: 'Committed offset', num: true }, { label: 'Log end offset', num: true }, { label: 'Lag', num: true }],
        rows: offs.map((o) => h('tr', { 'data-testid': 'lag-row', 'data-topic': o.topic, 'data-partition': o.partition },
          h('td', {}, link(topicHref(o.topic), o.topic)),
          h('td', { class: 'num', text: o.partition }),
          h('td', { class: 'num', 'data-col': 'committed', text: fmtNum(o.committedOffset) }),
          h('td', { class: 'num', 'data-col': 'log-end', text: fmtNum(o.logEndOffset) }),
          h('td', { class: `num ${Number(o.lag) > 0 ? 'lag-pos' : 'lag-zero'}`, 'data-col': 'lag', text: fmtNum(o.lag) }))),
        empty: 'No committed offsets.',
      }));
    },
  };
}

/** A timestamp typed by a person: epoch milliseconds, or anything Date.parse understands. */
function parseTimestamp(text) {
  const t = text.trim();
  if (t === '') return null;
  if (/^\d+$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : NaN;
}

function viewRecords(main, _params, q) {
  main.append(h('h1', { text: 'Records' }));
  const topicSel = h('select', { id: 'records-topic', name: 'topic', required: true });
  const partSel = h('select', { id: 'records-partition', name: 'partition' });
  const modeOffset = h('input', { type: 'radio', name: 'from', value: 'offset', id: 'records-from-offset' });
  const modeTime = h('input', { type: 'radio', name: 'from', value: 'timestamp', id: 'records-from-timestamp' });
  const offsetIn = h('input', { type: 'number', min: 0, step: 1, id: 'records-offset', name: 'offset', value: q.get('offset') ?? '0', size: 10 });
  const timeIn = h('input', { type: 'text', id: 'records-timestamp', name: 'timestamp', placeholder: '2026-01-31T12:00:00Z or epoch ms', value: q.get('timestamp') ?? '', size: 24 });
  const limitSel = h('select', { id: 'records-limit', name: 'limit' }, [10, 20, 50, 100].map((n) => h('option', { value: n, text: n })));
  limitSel.value = q.get('limit') ?? '20';
  (q.has('timestamp') ? modeTime : modeOffset).checked = true;

  const browseForm = h('form', { class: 'inline', id: 'records-form', 'aria-label': 'Browse a partition' },
    h('label', { for: 'records-topic' }, 'Topic', topicSel),
    h('label', { for: 'records-partition' }, 'Partition', partSel),
    h('fieldset', {}, h('legend', { text: 'Start from' }),
      h('label', {}, h('span', {}, modeOffset, ' offset'), offsetIn),
      h('label', {}, h('span', {}, modeTime, ' timestamp'), timeIn)),
    h('label', { for: 'records-limit' }, 'Records per page', limitSel),
    h('button', { type: 'submit', id: 'records-load', text: 'Load' }));
  const results = h('section', { id: 'records-results', 'aria-label': 'Records', 'aria-live': 'polite' });

  const keyIn = h('input', { type: 'text', id: 'search-key', name: 'key', size: 24 });
  const headerIn = h('input', { type: 'text', id: 'search-header', name: 'header', placeholder: 'name:value', size: 20 });
  const maxBytesIn = h('input', { type: 'number', min: 1, id: 'search-max-bytes', name: 'maxBytes', placeholder: 'server default', size: 12 });
  const searchForm = h('form', { class: 'inline', id: 'search-form', 'aria-label': 'Search the topic' },
    h('label', { for: 'search-key' }, 'Key', keyIn),
    h('label', { for: 'search-header' }, 'Header', headerIn),
    h('label', { for: 'search-max-bytes' }, 'Scan at most (bytes)', maxBytesIn),
    h('button', { type: 'submit', id: 'search-submit', text: 'Search all partitions' }));
  const matches = h('section', { id: 'search-results', 'aria-label': 'Search results', 'aria-live': 'polite' });

  main.append(browseForm, results, h('h2', { text: 'Search the topic' }),
    h('p', { class: 'notice', text: 'Scans every partition of the selected topic for records with this exact key and/or header.' }),
    searchForm, matches);

  let topics = [];
  const fillPartitions = (selected) => {
    const tp = topics.find((x) => x.name === topicSel.value);
    const n = tp ? Number(tp.partitions) : 0;
    partSel.replaceChildren(...Array.from({ length: n }, (_, i) => h('option', { value: i, text: i })));
    if (selected !== null && selected !== undefined && Number(selected) < n) partSel.value = String(selected);
  };
  topicSel.addEventListener('change', () => fillPartitions(0));
  // Typing a start position picks its mode: the radio buttons only say which one is used.
  offsetIn.addEventListener('input', () => {
    modeOffset.checked = true;
  });
  timeIn.addEventListener('input', () => {
    modeTime.checked = true;
  });

  browseForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const params = { topic: topicSel.value, partition: partSel.value, limit: limitSel.value };
    if (modeTime.checked) params.timestamp = timeIn.value.trim();
    else params.offset = offsetIn.value;
    location.hash = recordsHref(params);
  });

  searchForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const topic = topicSel.value;
    const p = new URLSearchParams();
    if (keyIn.value !== '') p.set('key', keyIn.value);
    if (headerIn.value.trim() !== '') p.set('header', headerIn.value.trim());
    if (maxBytesIn.value !== '') p.set('maxBytes', maxBytesIn.value);
    if (!topic || (!p.has('key') && !p.has('header'))) {
      matches.replaceChildren(h('p', { class: 'muted', text: 'Choose a topic and give a key or a header to search for.' }));
      return;
    }
    matches.dataset.state = 'loading';
    matches.replaceChildren(h('p', { class: 'muted', text: `Searching ${topic}…` }));
    try {
      const res = await api(`/v1/topics/${enc(topic)}/search?${p.toString()}`);
      showError(null);
      const list = [...res.matches].sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
      matches.replaceChildren(
        h('p', { 'data-testid': 'search-summary' },
          `${list.length} match${list.length === 1 ? '' : 'es'} in ${topic}; scanned ${fmtBytes(res.scannedBytes)}`,
          res.truncated ? h('strong', { text: ' (scan limit reached: there may be more matches)' }) : null),
        table({
          testid: 'search-table',
          columns: [{ label: 'Partition', num: true }, { label: 'Offset', num: true }, { label: 'Timestamp' }, { label: 'Key' }, { label: 'Value' }, { label: 'Headers' }],
          rows: list.map((m) => h('tr', { 'data-testid': 'search-match', 'data-partition': m.partition, 'data-offset': m.offset },
            h('td', { class: 'num', 'data-col': 'partition', text: m.partition }),
            h('td', { class: 'num', 'data-col': 'offset' }, link(recordsHref({ topic, partition: m.partition, offset: m.offset }), String(m.offset))),
            h('td', { class: 'mono', 'data-col': 'timestamp', title: m.timestamp, text: fmtTime(m.timestamp) }),
            h('td', { class: 'mono' }, payload(m.key, m.keyEncoding)),
            h('td', { class: 'mono' }, payload(m.value, m.valueEncoding)),
            h('td', { class: 'mono' }, headersCell(m.headers)))),
          empty: 'No records match.',
        }),
      );
      matches.dataset.state = 'ready';
    } catch (err) {
      matches.dataset.state = 'error';
      matches.replaceChildren();
      showError(err);
    }
  });

  const load = async () => {
    const topic = q.get('topic');
    if (!topic) {
      results.replaceChildren(h('p', { class: 'muted', text: 'Choose a topic and a partition, then Load.' }));
      return;
    }
    const partition = Number(q.get('partition') ?? '0');
    const p = new URLSearchParams({ limit: limitSel.value });
    let from;
    const ts = q.has('timestamp') ? parseTimestamp(q.get('timestamp')) : null;
    if (Number.isNaN(ts)) throw new Error(`not a timestamp: ${q.get('timestamp')} (use epoch milliseconds or an ISO date)`);
    if (ts !== null) {
      p.set('timestamp', String(ts));
      from = `timestamp ${fmtTime(ts)}`;
    } else {
      p.set('offset', q.get('offset') ?? '0');
      from = `offset ${p.get('offset')}`;
    }
    const res = await api(`/v1/topics/${enc(topic)}/partitions/${partition}/records?${p.toString()}`);
    const recs = res.records;
    const pager = h('div', { class: 'pager' },
      h('span', { 'data-testid': 'records-summary' }, `${recs.length} record${recs.length === 1 ? '' : 's'} from ${topic}-${partition} at ${from}`),
      recs.length === 0
        ? h('span', { class: 'muted', text: `Nothing more yet: the next record will be at offset ${res.nextOffset}.` })
        : h('a', { href: recordsHref({ topic, partition, offset: res.nextOffset, limit: limitSel.value }), id: 'records-next' },
          `Next page (from offset ${res.nextOffset}) →`));
    results.replaceChildren(pager, table({
      testid: 'records-table',
      columns: [{ label: 'Offset', num: true }, { label: 'Timestamp' }, { label: 'Key' }, { label: 'Value' }, { label: 'Headers' }],
      rows: recs.map((r) => h('tr', { 'data-testid': 'record-row', 'data-partition': r.partition, 'data-offset': r.offset },
        h('td', { class: 'num', text: r.offset }),
        h('td', { class: 'mono', title: r.timestamp, text: fmtTime(r.timestamp) }),
        h('td', { class: 'mono', 'data-col': 'key' }, payload(r.key, r.keyEncoding)),
        h('td', { class: 'mono', 'data-col': 'value' }, payload(r.value, r.valueEncoding)),
        h('td', { class: 'mono' }, headersCell(r.headers)))),
      empty: 'No records at this position (the end of the partition, or nothing at or after this timestamp).',
    }));
  };

  return {
    once: true,
    async refresh() {
      const res = await api('/v1/topics');
      topics = [...res.topics].sort((a, b) => Number(a.internal) - Number(b.internal) || a.name.localeCompare(b.name));
      topicSel.replaceChildren(h('option', { value: '', text: '— choose —' }), ...topics.map((tp) => h('option', { value: tp.name, text: tp.name })));
      topicSel.value = q.get('topic') ?? '';
      fillPartitions(q.get('partition') ?? 0);
      await load();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Router and poll loop

const routes = [
  { re: /^\/brokers$/, nav: 'brokers', title: 'Brokers', view: viewBrokers },
  { re: /^\/topics$/, nav: 'topics', title: 'Topics', view: viewTopics },
  { re: /^\/topics\/([^/]+)$/, nav: 'topics', title: 'Topic', view: viewTopic },
  { re: /^\/groups$/, nav: 'groups', title: 'Groups', view: viewGroups },
  { re: /^\/groups\/([^/]+)$/, nav: 'groups', title: 'Group', view: viewGroup },
  { re: /^\/records$/, nav: 'records', title: 'Records', view: viewRecords },
];

let current = null; // { id, refresh, once }
let routeSeq = 0;

async function runRefresh(state) {
  const main = document.getElementById('main');
  try {
    await state.refresh();
    if (state.id !== routeSeq) return;
    showError(null);
    main.dataset.state = 'ready';
  } catch (err) {
    if (state.id !== routeSeq) return;
    main.dataset.state = 'error';
    showError(err);
  }
}

function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  const match = routes.map((r) => ({ r, m: r.re.exec(path) })).find((x) => x.m !== null);
  if (match === undefined) {
    location.replace('#/topics');
    return;
  }
  const { r, m } = match;
  const params = m.slice(1).map((p) => decodeURIComponent(p));
  const id = ++routeSeq;
  const main = document.getElementById('main');
  main.replaceChildren();
  main.dataset.view = r.nav + (params.length > 0 ? '-detail' : '');
  main.dataset.state = 'loading';
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${params.length > 0 ? `${r.title} ${params[0]}` : r.title} · Spool`;
  const state = { id, ...r.view(main, params, new URLSearchParams(search)) };
  current = state;
  void runRefresh(state);
}

let ticking = false;
async function tick() {
  if (ticking) return;
  ticking = true;
  try {
    const health = document.getElementById('health');
    try {
      const res = await fetch('/v1/status/ready', { headers: { accept: 'application/json' } });
      health.textContent = res.ok ? 'ready' : `not ready (HTTP ${res.status})`;
      health.className = `health ${res.ok ? 'ok' : 'bad'}`;
    } catch {
      health.textContent = 'unreachable';
      health.className = 'health bad';
    }
    try {
      await pollStats();
    } catch (err) {
      showError(err);
    }
    const state = current;
    if (state !== null && !state.once) await runRefresh(state);
  } finally {
    ticking = false;
  }
}

window.addEventListener('hashchange', () => {
  route();
  document.getElementById('main').focus({ preventScroll: true });
});
document.getElementById('poll-info').textContent = `Refreshing every ${POLL_MS / 1000} s`;
route();
void tick();
setInterval(() => void tick(), POLL_MS);
