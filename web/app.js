// SPDX-License-Identifier: Apache-2.0
//
// app.js - the live page's logic (index.html): plain ES2020, no library,
// no build step, nothing from the network but the stream's own server.
//
// Where the data comes from (docs/METRICS.md):
//   /api/info      source, model, uptime, totals; every 5 s, and after a
//                  batch (at most once a second)
//   /api/history   the last progress records (one per micro-batch), once;
//                  /api/progress (the latest) when there is no history
//   /api/rows      the recent rows, once; then every second if /events
//                  fails
//   /events        Server-Sent Events: `row` and `batch` as they happen
//   /thumb/ID      a row's thumbnail (row.thumb)
// Any of them may be missing (404: an older server, or `results` mode,
// which has rows but no batches): the page shows what it has.
//
// What it shows: the totals; four charts drawn as SVG polylines by
// drawChart() (rates, latency, batch duration from the progress records;
// in results mode rates and latency come from the rows' times); the
// newest MAX_TILES rows, each prediction marked right or wrong
// (class .right/.wrong, data-correct="true"/"false", a check or a cross).
//
// Sections: 1. state and fetching  2. rows  3. progress records
// 4. charts  5. header and totals  6. transport (SSE, polling)  7. start
'use strict';

// ---- 1. state and fetching

const MAX_TILES = 60; // rows on screen, newest first
const MAX_ROWS = 2000; // rows kept for the charts
const MAX_POINTS = 600; // progress records kept (the server keeps 600)
const ACC_WINDOW = 100; // labeled rows in an accuracy point

const state = {
  lastId: 0, // highest row id seen
  rows: [], // the last MAX_ROWS rows, oldest first
  accWindow: [], // ImageNet right/wrong of the last ACC_WINDOW labeled rows
  imagenetAcc: [], // [time ms, % right] per labeled row
  history: [], // progress records, oldest first
  info: null, // the last /api/info
  infoAt: 0, // Date.now() when it came
  infoAsked: 0, // Date.now() when it was last asked for
  infoMissing: false, // /api/info answered 404
  transport: 'connecting', // live | polling | offline
};

const $ = (id) => document.getElementById(id);

// GET url as JSON; a non-2xx answer throws an Error with .status.
async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) {
    const e = new Error(`${url}: HTTP ${r.status}`);
    e.status = r.status;
    throw e;
  }
  return r.json();
}

// The same, but null for a 404 (an endpoint this server does not have).
async function getOptional(url) {
  try {
    return await getJSON(url);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- 2. rows

// Right (true), wrong (false) or unknown (null: no label). The server
// says so in `correct`; a server from before that field is judged here
// the same way, by the names.
function verdict(pred, label, name) {
  if (!pred || !label) return null;
  if (typeof pred.correct === 'boolean') return pred.correct;
  return name === label;
}

// rows: oldest first; fresh: highlight their tiles (not on the first load)
function addRows(rows, fresh = true) {
  const added = rows.filter((r) => r.id > state.lastId);
  if (added.length === 0) return;
  for (const r of added) {
    state.lastId = r.id;
    state.rows.push(r);
    const ok = verdict(r.prediction, r.label, r.prediction?.desc);
    if (ok !== null) {
      state.accWindow.push(ok);
      if (state.accWindow.length > ACC_WINDOW) state.accWindow.shift();
      const right = state.accWindow.filter(Boolean).length;
      const pt = [r.processing_time_ms, (100 * right) / state.accWindow.length];
      const prev = state.imagenetAcc[state.imagenetAcc.length - 1];
      if (prev && prev[0] === pt[0]) state.imagenetAcc.pop(); // same batch
      state.imagenetAcc.push(pt);
    }
  }
  if (state.rows.length > MAX_ROWS)
    state.rows.splice(0, state.rows.length - MAX_ROWS);
  if (state.imagenetAcc.length > MAX_ROWS)
    state.imagenetAcc.splice(0, state.imagenetAcc.length - MAX_ROWS);
  showTiles(added.slice(-MAX_TILES), fresh);
  scheduleRender();
}

// Put tiles for `rows` (oldest first) at the top, newest first; keep
// MAX_TILES.
function showTiles(rows, fresh) {
  const list = $('rows');
  const frag = document.createDocumentFragment();
  for (let i = rows.length - 1; i >= 0; i--) {
    const li = tile(rows[i]);
    if (fresh) li.classList.add('fresh');
    frag.append(li);
  }
  list.prepend(frag);
  while (list.children.length > MAX_TILES) list.lastElementChild.remove();
  $('rows-empty').hidden = list.children.length > 0;
  $('feed-note').textContent =
      `${list.children.length} shown of ${state.lastId}, newest first`;
}

function tile(r) {
  const li = el('li', 'row');
  li.dataset.id = r.id;
  li.dataset.label = r.label || '';
  li.append(thumb(r));
  const info = el('div', 'info');
  const head = el('div', 'label', r.label || 'unlabeled');
  head.append(el('span', 'id', `#${r.id}`));
  info.append(head);
  if (r.error) {
    const p = el('div', 'pred error');
    p.dataset.kind = 'error';
    p.append(el('span', 'mark', '!'), el('span', 'what', r.error));
    p.title = r.error;
    info.append(p);
  }
  if (r.prediction) {
    info.append(pred('imagenet', 'ImageNet', r.prediction.desc,
                     r.prediction.score,
                     verdict(r.prediction, r.label, r.prediction.desc)));
  }
  if (r.learned) {
    info.append(pred('learned', 'learned', r.learned.label, r.learned.score,
                     verdict(r.learned, r.label, r.learned.label)));
  }
  const lat = r.processing_time_ms - r.event_time_ms;
  info.append(el('div', 'when', `${clock(r.processing_time_ms)} · batch ` +
                 `${r.batch} · ${Math.max(0, lat)} ms`));
  li.title = r.path;
  li.append(info);
  return li;
}

function thumb(r) {
  const none = () => el('div', 'thumb none', r.error ? 'no image' : r.label);
  if (r.thumb !== true) return none();
  const img = el('img', 'thumb');
  img.alt = r.path;
  img.decoding = 'async';
  img.addEventListener('error', () => img.replaceWith(none()), { once: true });
  img.src = `/thumb/${r.id}`;
  return img;
}

// One prediction line: mark, who predicted, the class, its score.
function pred(kind, who, name, score, ok) {
  const p = el('div', 'pred');
  p.dataset.kind = kind;
  if (ok !== null) {
    p.classList.add(ok ? 'right' : 'wrong');
    p.dataset.correct = String(ok);
  }
  const mark = el('span', 'mark', ok === null ? '·' : ok ? '✓' : '✗');
  mark.title = ok === null ? 'no label' : ok ? 'right' : 'wrong';
  p.append(mark, el('span', 'sr', ok === null ? '' : ok ? 'right:' : 'wrong:'),
           el('span', 'who', who), el('span', 'what', name),
           el('span', 'score', Number(score).toFixed(2)));
  p.title = `${who}: ${name} (${Number(score).toFixed(4)})` +
            (ok === null ? '' : ok ? ', right' : ', wrong');
  return p;
}

// ---- 3. progress records

function addProgress(rec) {
  if (!rec || typeof rec.batchId !== 'number') return;
  const last = state.history[state.history.length - 1];
  if (last && rec.batchId <= last.batchId) return; // seen (events replay)
  state.history.push(rec);
  if (state.history.length > MAX_POINTS) state.history.shift();
  scheduleRender();
  scheduleInfo();
}

// ---- 4. charts

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => {
    renderPending = false;
    render();
  }, 200);
}

function render() {
  const fromRows = state.info?.mode === 'results' ||
                   (!state.info && state.history.length === 0);
  const s = fromRows ? seriesFromRows() : seriesFromHistory();
  drawChart('rate', s.rate, {});
  drawChart('latency', s.latency, {});
  drawChart('duration', s.duration,
            { empty: fromRows ? 'no micro-batches in results mode' : null });
  const learned = state.history.filter((r) => r.learned)
      .map((r) => [Date.parse(r.timestamp),
                   100 * r.learned.accuracy_last_100]);
  drawChart('accuracy', [{ name: 'learned', pts: learned },
                         { name: 'imagenet', pts: state.imagenetAcc }],
            { yMax: 100 });
  renderStats(s);
}

function seriesFromHistory() {
  const h = state.history;
  const line = (name, f) =>
    ({ name, pts: h.map((r) => [Date.parse(r.timestamp), f(r)]) });
  return {
    rate: [line('input', (r) => r.inputRowsPerSecond),
           line('process', (r) => r.processedRowsPerSecond)],
    latency: [line('p50', (r) => r.latencyMs?.p50),
              line('p99', (r) => r.latencyMs?.p99)],
    duration: [line('total', (r) => r.durationMs?.total),
               line('inference', (r) => r.durationMs?.inference)],
  };
}

// Results mode (no batches): rows per second by event time (input) and
// by processing time (process), latency percentiles per time bucket.
function seriesFromRows() {
  const rows = state.rows;
  const out = { rate: [], latency: [], duration: [] };
  if (rows.length === 0) return out;
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const r of rows) {
    t0 = Math.min(t0, r.event_time_ms, r.processing_time_ms);
    t1 = Math.max(t1, r.event_time_ms, r.processing_time_ms);
  }
  const step = Math.max(1000, Math.ceil((t1 - t0) / 60 / 1000) * 1000);
  const n = Math.floor((t1 - t0) / step) + 1;
  const input = new Array(n).fill(0);
  const done = new Array(n).fill(0);
  const lat = Array.from({ length: n }, () => []);
  for (const r of rows) {
    input[Math.floor((r.event_time_ms - t0) / step)]++;
    const b = Math.floor((r.processing_time_ms - t0) / step);
    done[b]++;
    lat[b].push(r.processing_time_ms - r.event_time_ms);
  }
  const x = (i) => t0 + i * step + step / 2;
  // the last bucket is still filling: left out when there are others
  const full = (c) => (c.length > 1 ? c.slice(0, -1) : c);
  const perS = (c) => full(c.map((v, i) => [x(i), (v * 1000) / step]));
  const q = (p) => lat.map((v, i) => [x(i), quantile(v, p)])
      .filter((pt) => pt[1] !== null);
  out.rate = [{ name: 'input', pts: perS(input) },
              { name: 'process', pts: perS(done) }];
  out.latency = [{ name: 'p50', pts: q(0.5) }, { name: 'p99', pts: q(0.99) }];
  return out;
}

function quantile(values, p) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(p * v.length))];
}

// A "nice" step (1, 2 or 5 times a power of ten) near span/count.
function niceStep(span, count) {
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
                    3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);

const SVG = 'http://www.w3.org/2000/svg';
function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Draw series [{name, pts: [[x ms, y], ...]}] into <svg data-chart=id>:
// y from 0 to opts.yMax (or a nice ceiling of the data), x the time span
// of the data; one <polyline class="line sN" data-series=name> a series
// (a dot, too, for a lone point). The svg gets data-points = the number
// of points drawn.
function drawChart(id, series, opts) {
  const svg = document.querySelector(`svg[data-chart="${id}"]`);
  const W = Math.max(120, svg.clientWidth);
  const H = Math.max(80, svg.clientHeight);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const ok = (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]);
  const clean = series.map((s) => ({ ...s, pts: s.pts.filter(ok) }));
  const all = clean.flatMap((s) => s.pts);
  svg.dataset.points = all.length;
  const m = { l: 38, r: 6, t: 6, b: 18 };
  if (all.length === 0) {
    svg.append(svgEl('text', { class: 'empty', x: W / 2, y: H / 2,
                               'text-anchor': 'middle' },
                     opts.empty || 'waiting for data…'));
    return;
  }
  let x0 = Math.min(...all.map((p) => p[0]));
  const x1 = Math.max(...all.map((p) => p[0]));
  if (x1 - x0 < 1000) x0 = x1 - 1000;
  const top = Math.max(...all.map((p) => p[1]));
  const yStep = opts.yMax ? opts.yMax / 4 : niceStep(top || 1, 3);
  const yMax = opts.yMax || Math.max(yStep, Math.ceil(top / yStep) * yStep);
  const px = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y) => H - m.b - (y / yMax) * (H - m.t - m.b);
  for (let y = 0; y <= yMax + yStep / 2; y += yStep) {
    svg.append(svgEl('line', { class: 'grid', x1: m.l, x2: W - m.r,
                               y1: py(y), y2: py(y) }));
    svg.append(svgEl('text', { class: 'axis', x: m.l - 5, y: py(y) + 3,
                               'text-anchor': 'end' }, shortNum(y)));
  }
  const tStep = TIME_STEPS.find((s) => (x1 - x0) / s <= 4) || 86400000;
  for (let t = Math.ceil(x0 / tStep) * tStep; t <= x1; t += tStep) {
    svg.append(svgEl('text', { class: 'axis', x: px(t), y: H - 4,
                               'text-anchor': 'middle' },
                     clock(t, tStep < 60000)));
  }
  clean.forEach((s, i) => {
    if (s.pts.length === 0) return;
    const pts = s.pts.map((p) => `${px(p[0]).toFixed(1)},` +
                                 `${py(Math.min(p[1], yMax)).toFixed(1)}`);
    svg.append(svgEl('polyline', { class: `line s${i}`,
                                   'data-series': s.name,
                                   points: pts.join(' ') }));
    const [lx, ly] = s.pts[s.pts.length - 1];
    svg.append(svgEl('circle', { class: `dot s${i}`, r: 2.5, cx: px(lx),
                                 cy: py(Math.min(ly, yMax)) }));
  });
}

function shortNum(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${+(v / 1e3).toFixed(0)}k`;
  return `${+v.toFixed(v < 10 && v % 1 ? 1 : 0)}`;
}

function clock(ms, seconds = true) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}` +
         (seconds ? `:${two(d.getSeconds())}` : '');
}

// ---- 5. header and totals

function bytes(n) {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${+n.toFixed(n < 10 && i ? 1 : 0)} ${u[i]}`;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

function setText(id, v) {
  const e = $(id);
  if (e.textContent !== v) e.textContent = v;
}

function renderInfo() {
  const i = state.info;
  if (!i) return;
  setText('mode', i.mode || 'stream');
  setText('source', i.source || '—');
  $('source').title = i.source || '';
  if (i.model) {
    const name = (i.model.path || '').split('/').pop();
    const sha = (i.model.sha256 || '').replace(/^sha256:/, '');
    setText('model', `${name} · ${sha.slice(0, 8)}`);
    $('model').title = `${i.model.path} (${i.model.format})\nsha256 ${sha}`;
  }
  tickUptime();
  renderStats();
}

function tickUptime() {
  const i = state.info;
  if (!i || !Number.isFinite(i.started_ms)) return;
  const now = i.now_ms + (Date.now() - state.infoAt);
  setText('uptime', duration(now - i.started_ms));
}

let lastSeries = null;
function renderStats(series) {
  if (series) lastSeries = series;
  const t = state.info?.totals;
  const h = state.history;
  const rec = h[h.length - 1];
  const num = (v) => (Number.isFinite(v) ? v.toLocaleString('en-US') : '—');
  setText('t-ok', num(t ? t.images_ok : state.lastId || undefined));
  setText('t-error', num(t?.images_error));
  setText('t-replayed', num(t?.images_replayed));
  setText('t-batches', num(t ? t.batches : rec && rec.batchId + 1));
  setText('t-bytes', t && Number.isFinite(t.bytes_read) ?
                     bytes(t.bytes_read) : '—');
  const lastOf = (s) => s?.pts[s.pts.length - 1]?.[1];
  const rate = lastOf(lastSeries?.rate[0]);
  setText('t-rate', Number.isFinite(rate) ? rate.toFixed(1) : '—');
  const p99 = lastOf(lastSeries?.latency[1]);
  setText('t-p99', Number.isFinite(p99) ? `${Math.round(p99)} ms` : '—');
  const learned = [...h].reverse().find((r) => r.learned)?.learned;
  const acc = learned ? 100 * learned.accuracy_last_100
                      : state.imagenetAcc[state.imagenetAcc.length - 1]?.[1];
  setText('t-acc', Number.isFinite(acc) ? `${acc.toFixed(0)}%` : '—');
  setText('t-acc-k', learned ? 'learned right' : 'ImageNet right');
}

function setTransport(kind) {
  state.transport = kind;
  const i = state.info;
  let text = { live: 'live', polling: 'live (polling)',
               offline: 'disconnected', connecting: 'connecting' }[kind];
  if (kind !== 'offline' && i && i.ready === false)
    text = i.not_ready ? `not ready: ${i.not_ready}` : 'not ready';
  $('status').dataset.state = kind;
  setText('status-text', text);
}

// A batch changes the totals: fetch them again, at most once a second.
let infoTimer = null;
function scheduleInfo() {
  if (infoTimer !== null || state.infoMissing) return;
  const wait = Math.max(0, 1000 - (Date.now() - state.infoAsked));
  infoTimer = setTimeout(() => {
    infoTimer = null;
    loadInfo();
  }, wait);
}

async function loadInfo() {
  state.infoAsked = Date.now();
  try {
    const i = await getOptional('/api/info');
    state.infoMissing = i === null;
    if (i) {
      state.info = i;
      state.infoAt = Date.now();
      renderInfo();
      setTransport(state.transport); // ready or not
    }
  } catch {
    // the transport (section 6) says when the server is gone
  }
}

// ---- 6. transport: Server-Sent Events, else polling every second

function connect() {
  if (!('EventSource' in window)) {
    poll();
    return;
  }
  const es = new EventSource(`/events?after=${state.lastId}`);
  es.addEventListener('open', () => setTransport('live'));
  es.addEventListener('row', (e) => addRows([JSON.parse(e.data)]));
  es.addEventListener('batch', (e) => addProgress(JSON.parse(e.data)));
  es.addEventListener('error', () => {
    es.close();
    poll();
  });
}

async function poll() {
  try {
    const r = await getJSON(`/api/rows?after=${state.lastId}`);
    if (r.last < state.lastId) location.reload(); // the server restarted
    addRows(r.rows);
    if (state.info?.mode !== 'results')
      addProgress(await getOptional('/api/progress'));
    setTransport('polling');
  } catch {
    setTransport('offline');
  }
  setTimeout(poll, 1000);
}

// ---- 7. start

async function start() {
  render();
  await loadInfo();
  try {
    const h = await getOptional('/api/history');
    if (h) h.batches.forEach(addProgress);
    else addProgress(await getOptional('/api/progress'));
    addRows((await getJSON('/api/rows?after=0')).rows, false);
  } catch {
    setTransport('offline');
  }
  connect();
  setInterval(loadInfo, 5000);
  setInterval(tickUptime, 1000);
  window.addEventListener('resize', scheduleRender);
}

start();
