// SPDX-License-Identifier: Apache-2.0
//
// page_check.mjs URL SCREENSHOT - the live page (web/) in a real browser:
// Debian's headless Chromium driven by the npm package playwright-core
// (tests/browser/package-lock.json), against a stream that is running.
// Run by the browser_page test (tests/browser/browser_page.c), which
// starts the stream and gives its URL; runnable by hand the same way.
//
// It checks, failing with exit 1 and a line saying what was wrong:
//   - the page loads with no script error and no Content-Security-Policy
//     violation (the server allows only the page's own files);
//   - rows arrive while the page is open (the highest row id on screen
//     grows after the first tiles), until at least 10 are shown, and
//     never more than 60;
//   - the rate chart has a line of at least two points; so do latency,
//     batch duration and accuracy;
//   - every tile's marks agree with the server's rows (/api/rows): the
//     ImageNet prediction is right when its name is the label (daisy is
//     the only one of the five flowers ImageNet has), the learned one
//     when it is the label; a wrong one has class .wrong,
//     data-correct="false" and a visible cross, a right one .right,
//     "true" and a check; at least one wrong ImageNet prediction must be
//     on screen (roses and tulips always are);
//   - a row with a thumbnail (thumb: true) shows it decoded;
//   - with /api/info, the header shows its source.
// Then it saves a 1280x800 screenshot to SCREENSHOT (also on failure,
// when the page got that far) and prints its path.
//
// Environment: IMGSTREAM_BROWSER_DIR the folder holding node_modules
// (default: this script's folder), IMGSTREAM_CHROMIUM the browser
// (default /usr/bin/chromium).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [url, shot] = process.argv.slice(2);
if (!url || !shot) {
  console.error('usage: node page_check.mjs URL SCREENSHOT');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.IMGSTREAM_BROWSER_DIR || here;
const require = createRequire(path.join(modules, 'package.json'));
const { chromium } = require('playwright-core');

const WAIT_MS = 60000; // for each wait below (slow machines)
const problems = [];
const fail = (msg) => {
  throw new Error(msg);
};

async function serverRows() {
  const r = await fetch(new URL('/api/rows?after=0', url));
  if (!r.ok) fail(`/api/rows: HTTP ${r.status}`);
  return new Map((await r.json()).rows.map((row) => [row.id, row]));
}

// What each tile shows: id, label, and per prediction its kind, name,
// classes, data-correct and mark, whether the mark is visible.
function readTiles() {
  return [...document.querySelectorAll('#rows li.row')].map((li) => ({
    id: Number(li.dataset.id),
    label: li.dataset.label,
    preds: [...li.querySelectorAll('.pred')].map((p) => {
      const mark = p.querySelector('.mark');
      const box = mark.getBoundingClientRect();
      return {
        kind: p.dataset.kind,
        name: p.querySelector('.what').textContent,
        cls: [...p.classList],
        correct: p.dataset.correct,
        mark: mark.textContent,
        visible: box.width > 0 && box.height > 0 &&
                 getComputedStyle(mark).visibility !== 'hidden',
      };
    }),
  }));
}

// The tiles' marks against the server's rows; returns the counts.
function checkMarks(tiles, rows) {
  const n = { wrongImagenet: 0, rightImagenet: 0, learned: 0 };
  for (const t of tiles) {
    const row = rows.get(t.id);
    if (!row) continue; // left the server's window meanwhile
    if (t.label !== row.label) fail(`row ${t.id}: label ${t.label}`);
    const expect = { imagenet: row.prediction, learned: row.learned };
    for (const p of t.preds) {
      if (p.kind === 'error') continue;
      const truth = expect[p.kind];
      if (!truth) fail(`row ${t.id}: a ${p.kind} prediction the row has not`);
      const name = p.kind === 'imagenet' ? truth.desc : truth.label;
      if (p.name !== name) fail(`row ${t.id}: ${p.kind} shows ${p.name}`);
      const right = name === row.label;
      if (typeof truth.correct === 'boolean' && truth.correct !== right)
        fail(`row ${t.id}: the server says ${p.kind} ${name} for ` +
             `${row.label} is correct=${truth.correct}`);
      const want = right ? ['right', 'true', '✓'] : ['wrong', 'false', '✗'];
      const other = right ? 'wrong' : 'right';
      if (!p.cls.includes(want[0]) || p.cls.includes(other) ||
          p.correct !== want[1] || p.mark !== want[2] || !p.visible)
        fail(`row ${t.id} (${row.label}): ${p.kind} ${name} should be ` +
             `marked ${want[0]}: class="${p.cls.join(' ')}" ` +
             `data-correct=${p.correct} mark="${p.mark}" ` +
             `visible=${p.visible}`);
      if (p.kind === 'imagenet') n[right ? 'rightImagenet' : 'wrongImagenet']++;
      else n.learned++;
    }
  }
  return n;
}

const t0 = Date.now();
const browser = await chromium.launch({
  executablePath: process.env.IMGSTREAM_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu',
         '--disable-background-networking'],
});
let page = null;
let code = 0;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text()))
      problems.push(`CSP: ${m.text()}`);
  });
  const answer = await page.goto(url);
  if (!answer.ok()) fail(`GET ${url}: HTTP ${answer.status()}`);
  const csp = answer.headers()['content-security-policy'] || '';
  if (!csp.includes("script-src 'self'")) fail(`no CSP on the page: ${csp}`);

  // Rows arrive live: the newest id grows after the first tiles.
  await page.waitForSelector('#rows li.row');
  const maxId = () => page.$$eval('#rows li.row',
      (l) => Math.max(...l.map((li) => Number(li.dataset.id))));
  const first = await maxId();
  await page.waitForFunction((n) => {
    const l = [...document.querySelectorAll('#rows li.row')];
    return l.length >= 10 &&
           Math.max(...l.map((li) => Number(li.dataset.id))) > n;
  }, first);
  const live = await maxId();
  console.log(`rows: first seen up to #${first}, then #${live} (live)`);

  for (const chart of ['rate', 'latency', 'duration', 'accuracy']) {
    await page.waitForFunction((c) => {
      const lines = document.querySelectorAll(
          `svg[data-chart="${c}"] polyline[data-series]`);
      return [...lines].some((pl) =>
        pl.getAttribute('points').trim().split(/\s+/).length >= 2);
    }, chart).catch(() => fail(`the ${chart} chart has no line of 2 points`));
  }

  const tiles = await page.evaluate(readTiles);
  if (tiles.length > 60) fail(`${tiles.length} tiles shown (at most 60)`);
  const rows = await serverRows();
  const n = checkMarks(tiles, rows);
  console.log(`marks: ${tiles.length} tiles, ImageNet ${n.rightImagenet} ` +
              `right and ${n.wrongImagenet} wrong, ${n.learned} learned`);
  if (n.wrongImagenet === 0) fail('no wrong ImageNet prediction on screen');
  if (n.learned === 0) fail('no learned prediction on screen (--learn)');

  const withThumb = tiles.filter((t) => rows.get(t.id)?.thumb === true);
  if (withThumb.length > 0) {
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#rows img.thumb')]
          .some((img) => img.complete && img.naturalWidth > 0))
        .catch(() => fail('no thumbnail decoded'));
  }

  const info = await fetch(new URL('/api/info', url));
  if (info.ok) {
    const source = (await info.json()).source;
    await page.waitForFunction((s) =>
      document.getElementById('source').textContent === s, source)
        .catch(() => fail(`the header does not show the source ${source}`));
  }
  if (problems.length) fail(problems.join('\n'));
} catch (e) {
  console.error(`page_check: FAILED: ${e.message}`);
  code = 1;
} finally {
  if (page) {
    await page.screenshot({ path: shot })
        .then(() => console.log(`screenshot: ${shot}`))
        .catch((e) => console.error(`no screenshot: ${e.message}`));
  }
  await browser.close();
}
console.log(`page_check: ${code ? 'failed' : 'ok'} in ` +
            `${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(code);
