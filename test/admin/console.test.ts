// admin/ room test: the web console in real headless Chromium (playwright-core driving Debian's
// /usr/bin/chromium) against a real broker whose admin plane listens on port 0. KafkaJS produces
// to two topics and runs a consumer group that commits behind the log end; the console must list
// the topics, chart their throughput, show the group's lag exactly as Kafka's own offset APIs
// compute it, page through a partition, and find a key's partition and offset. Screenshots go to
// test-artifacts/ (console.png is the topics page with its charts).
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import kafkajs from 'kafkajs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { registerConsole } from '../../src/admin/console.js';
import { startBroker, type RunningBroker } from '../../src/index.js';

const { Kafka, logLevel } = kafkajs;

const CHROMIUM = '/usr/bin/chromium';
const ORDERS = 'console-orders';
const PAYMENTS = 'console-payments';
const GROUP = 'console-billing';
const ORDER_PARTITIONS = 3;
const ORDERS_PER_PARTITION = 20;
/** Committed offset per orders partition: behind the end on two partitions, at the end on one. */
const COMMITTED = [5, 12, 20];

const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('package.json not found above the test file');
})();
const artifacts = join(repoRoot, 'test-artifacts');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value (not undefined); bounded by `attempts`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, attempts = 100, delayMs = 100): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(delayMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').trim();
}

async function waitReady(page: Page, view: string): Promise<void> {
  await page.waitForSelector(`main[data-view="${view}"][data-state="ready"]`);
}

t.test('the console serves its own files from console/ and nothing else', async (t) => {
  const app = Fastify();
  registerConsole(app);
  await app.ready();
  t.teardown(() => app.close());
  const root = await app.inject({ url: '/' });
  t.equal(root.statusCode, 302);
  t.equal(root.headers.location, '/console/');
  const index = await app.inject({ url: '/console/' });
  t.equal(index.statusCode, 200);
  t.match(index.headers['content-type'], /^text\/html/);
  t.match(index.body, '<script type="module" src="app.js">', 'the page loads app.js relative to /console/');
  for (const [file, type] of [['app.js', /^text\/javascript/], ['style.css', /^text\/css/]] as const) {
    const res = await app.inject({ url: `/console/${file}` });
    t.equal(res.statusCode, 200, file);
    t.match(res.headers['content-type'], type, `${file} content type`);
  }
  for (const url of ['/console/missing.js', '/console/..%2Fpackage.json', '/console/%2E%2E%2Fpackage.json', '/console/../package.json']) {
    t.equal((await app.inject({ url })).statusCode, 404, `${url} is not served`);
  }
});

t.test('the web console shows topics, group lag and search results from a real broker', async (t) => {
  if (!existsSync(CHROMIUM)) {
    // Never a silent pass: the console is only tested in a real browser.
    t.fail(`headless Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (as root; scripts/setup-interop.sh does it)`);
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'spool-console-'));
  let running: RunningBroker | null = null;
  let browser: Browser | null = null;
  const disconnects: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await browser?.close();
    for (const d of disconnects.reverse()) await d().catch(() => undefined);
    await running?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const started = await startBroker({
    dataDir,
    port: 0,
    host: '127.0.0.1',
    config: { 'spool.admin.listeners': 'http://127.0.0.1:0', 'group.initial.rebalance.delay.ms': 0 },
  });
  running = started;
  const broker = started.broker;
  const adminAddress = broker.adminAddress;
  if (adminAddress === null) throw new Error('the broker did not start its admin plane');
  const base = `http://${adminAddress.host}:${adminAddress.port}`;

  // --- data: two topics, a group committed behind the end --------------------------------
  const kafka = new Kafka({ brokers: [`${started.host}:${started.port}`], clientId: 'console-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  disconnects.push(() => admin.disconnect());
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: ORDERS, numPartitions: ORDER_PARTITIONS },
      { topic: PAYMENTS, numPartitions: 2 },
    ],
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  disconnects.push(() => producer.disconnect());
  /** key → where the broker put it, from the producer's own acknowledgements. */
  const placed = new Map<string, { partition: number; offset: number }>();
  // Order i goes to partition i % 3 at offset floor(i / 3), with CreateTime baseTs + i.
  const baseTs = Date.now() - 60_000;
  for (let p = 0; p < ORDER_PARTITIONS; p++) {
    const ids = Array.from({ length: ORDERS_PER_PARTITION }, (_, j) => j * ORDER_PARTITIONS + p);
    const keys = ids.map((i) => `order-${i}`);
    const [ack] = await producer.send({
      topic: ORDERS,
      acks: -1,
      messages: ids.map((i) => ({
        key: `order-${i}`,
        value: `{"order":${i},"amount":${(i * 37) % 100}}`,
        partition: p,
        timestamp: String(baseTs + i),
        headers: { source: 'console-test' },
      })),
    });
    keys.forEach((key, j) => placed.set(key, { partition: p, offset: Number(ack.baseOffset) + j }));
  }
  for (let p = 0; p < 2; p++) {
    await producer.send({ topic: PAYMENTS, acks: -1, messages: Array.from({ length: 10 }, (_, j) => ({ key: `pay-${p}-${j}`, value: 'x'.repeat(100), partition: p })) });
  }

  const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 30_000, heartbeatInterval: 1000 });
  await consumer.connect();
  disconnects.push(() => consumer.disconnect());
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  await consumer.subscribe({ topics: [ORDERS], fromBeginning: true });
  // autoCommit off: the only committed offsets are the ones below, so the lag stays put.
  await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
  await eventually('the consumer to join its group', async () => (joined ? true : undefined), 300);
  await consumer.commitOffsets(COMMITTED.map((offset, partition) => ({ topic: ORDERS, partition, offset: String(offset) })));

  // The real lag, from Kafka's offset APIs (OffsetFetch and ListOffsets) through KafkaJS.
  const realLag = await eventually('the commits to be visible', async () => {
    const [committed] = await admin.fetchOffsets({ groupId: GROUP, topics: [ORDERS] });
    const ends = await admin.fetchTopicOffsets(ORDERS);
    const lag = new Map<number, number>();
    for (const c of committed.partitions) {
      const end = Number(ends.find((e) => e.partition === c.partition)?.high);
      if (Number(c.offset) < 0) return undefined;
      lag.set(c.partition, end - Number(c.offset));
    }
    return lag.size === ORDER_PARTITIONS ? lag : undefined;
  });
  const realTotalLag = [...realLag.values()].reduce((a, b) => a + b, 0);
  t.equal(realTotalLag, COMMITTED.reduce((n, c) => n + ORDERS_PER_PARTITION - c, 0), 'the group lags by what it left uncommitted');

  // --- the console in Chromium ---------------------------------------------------------------
  mkdirSync(artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  t.test('/ redirects to the console, which lists the topics with throughput charts', async (t) => {
    // ?poll=500: two stats samples (one rate) take a second instead of six.
    await page.goto(`${base}/?poll=500`);
    t.match(new URL(page.url()).pathname, /^\/console\/$/, 'redirected to /console/');
    await page.goto(`${base}/console/?poll=500#/topics`);
    await waitReady(page, 'topics');
    await page.waitForSelector(`[data-testid="topic-row"][data-topic="${ORDERS}"]`);
    await page.waitForSelector(`[data-testid="topic-row"][data-topic="${PAYMENTS}"]`);
    t.equal(await text(page, `[data-testid="topic-row"][data-topic="${ORDERS}"] [data-col="partitions"]`), String(ORDER_PARTITIONS));
    t.equal(await text(page, `[data-testid="topic-row"][data-topic="${PAYMENTS}"] [data-col="partitions"]`), '2');
    t.equal(await page.locator('[data-testid="topic-row"][data-topic="__consumer_offsets"]').count(), 0, 'internal topics hidden by default');

    // Keep producing for a few polls so the chart has rates to draw (bounded: 8 batches).
    for (let i = 0; i < 8; i++) {
      await producer.send({ topic: PAYMENTS, messages: Array.from({ length: 20 }, (_, j) => ({ key: `live-${i}-${j}`, value: 'y'.repeat(200), partition: j % 2 })) });
      await sleep(250);
    }
    await page.waitForSelector(`[data-testid="chart-bytes-in"] polyline[data-series="${PAYMENTS}"]`);
    await page.waitForSelector(`[data-testid="chart-messages-in"] polyline[data-series="${PAYMENTS}"]`);
    const label = (await page.locator('[data-testid="chart-bytes-in"] svg').getAttribute('aria-label')) ?? '';
    t.match(label, PAYMENTS, 'the chart names the topic in its text alternative');
    await page.screenshot({ path: join(artifacts, 'console.png'), fullPage: true });
    t.ok(existsSync(join(artifacts, 'console.png')), 'screenshot saved to test-artifacts/console.png');
  });

  t.test('the group page shows the real lag, per partition and in total', async (t) => {
    await page.goto(`${base}/console/?poll=500#/groups`);
    await waitReady(page, 'groups');
    await page.click(`[data-testid="group-row"][data-group="${GROUP}"] a`);
    await waitReady(page, 'groups-detail');
    t.equal(await text(page, '[data-testid="group-id"]'), GROUP);
    const shownTotal = await eventually('the total lag', async () => {
      const v = await text(page, '[data-testid="group-total-lag"]');
      return v === String(realTotalLag) ? v : undefined;
    }, 50, 200).catch(() => text(page, '[data-testid="group-total-lag"]'));
    t.equal(shownTotal, String(realTotalLag), 'total lag shown = the lag KafkaJS computes');
    for (const [partition, lag] of realLag) {
      const row = `[data-testid="lag-row"][data-topic="${ORDERS}"][data-partition="${partition}"]`;
      t.equal(await text(page, `${row} [data-col="lag"]`), String(lag), `partition ${partition} lag`);
      t.equal(await text(page, `${row} [data-col="committed"]`), String(COMMITTED[partition]), `partition ${partition} committed offset`);
      t.equal(await text(page, `${row} [data-col="log-end"]`), String(ORDERS_PER_PARTITION), `partition ${partition} log end offset`);
    }
    t.equal(await text(page, '[data-testid="group-state"]'), 'Stable');
    t.equal(await page.locator('[data-testid="member-row"]').count(), 1, 'the running consumer is listed as a member');

    // The page follows the group: after a commit that catches partition 0 up, the total and the
    // chart move to the new lag without a reload.
    await consumer.commitOffsets([{ topic: ORDERS, partition: 0, offset: String(ORDERS_PER_PARTITION) }]);
    const caughtUp = realTotalLag - realLag.get(0)!;
    await page.waitForFunction(
      (want) => document.querySelector('[data-testid="group-total-lag"]')?.textContent.trim() === want,
      String(caughtUp),
    );
    t.equal(await text(page, `[data-testid="lag-row"][data-topic="${ORDERS}"][data-partition="0"] [data-col="lag"]`), '0', 'partition 0 caught up');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="chart-group-lag"]')?.getAttribute('data-points')) >= 4);
    const chartLabel = (await page.locator('[data-testid="chart-group-lag"] svg').getAttribute('aria-label')) ?? '';
    t.match(chartLabel, `total: ${caughtUp}`, 'the lag chart ends at the new total');
    await page.screenshot({ path: join(artifacts, 'console-group.png'), fullPage: true });
  });

  t.test('the topic page shows partitions with offsets, leader and ISR', async (t) => {
    await page.goto(`${base}/console/#/topics/${ORDERS}`);
    await waitReady(page, 'topics-detail');
    t.equal(await page.locator('[data-testid="partition-row"]').count(), ORDER_PARTITIONS);
    for (let p = 0; p < ORDER_PARTITIONS; p++) {
      const row = `[data-testid="partition-row"][data-partition="${p}"]`;
      t.equal(await text(page, `${row} [data-col="high-watermark"]`), String(ORDERS_PER_PARTITION), `partition ${p} high watermark`);
      t.equal(await text(page, `${row} [data-col="log-start-offset"]`), '0');
      t.equal(await text(page, `${row} [data-col="leader"]`), String(broker.nodeId));
      t.equal(await text(page, `${row} [data-col="isr"]`), String(broker.nodeId));
    }
    await page.screenshot({ path: join(artifacts, 'console-topic.png'), fullPage: true });
  });

  t.test('the record browser pages through a partition and key search finds the record', async (t) => {
    await page.goto(`${base}/console/#/records?topic=${ORDERS}&partition=1&offset=0&limit=10`);
    await waitReady(page, 'records');
    await page.waitForSelector('[data-testid="record-row"]');
    const offsets = async () => page.locator('[data-testid="record-row"]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-offset'))));
    t.same(await offsets(), Array.from({ length: 10 }, (_, i) => i), 'first page: offsets 0..9');
    const firstKey = [...placed].find(([, at]) => at.partition === 1 && at.offset === 0)?.[0];
    t.equal(await text(page, '[data-testid="record-row"] [data-col="key"]'), firstKey, 'record key shown');
    await page.click('#records-next');
    await page.waitForSelector('[data-testid="record-row"][data-offset="10"]');
    t.same(await offsets(), Array.from({ length: 10 }, (_, i) => 10 + i), 'next page: offsets 10..19');

    // From a timestamp, through the form: order 31 is on partition 1 with CreateTime baseTs + 31,
    // so the first record at or after baseTs + 30 on partition 1 is order 31 at offset 10.
    await page.selectOption('#records-partition', '1');
    await page.fill('#records-timestamp', String(baseTs + 30));
    await page.click('#records-load');
    await page.waitForSelector('main[data-view="records"][data-state="ready"] [data-testid="records-summary"]:has-text("timestamp")');
    t.equal((await offsets())[0], 10, 'from a timestamp: the first record at or after it');
    t.equal(await text(page, '[data-testid="record-row"] [data-col="key"]'), 'order-31');

    const key = 'order-37';
    const want = placed.get(key)!;
    await page.fill('#search-key', key);
    await page.click('#search-submit');
    await page.waitForSelector('#search-results[data-state="ready"]');
    const matches = await page.locator('[data-testid="search-match"]').evaluateAll((rows) =>
      rows.map((r) => ({ partition: Number(r.getAttribute('data-partition')), offset: Number(r.getAttribute('data-offset')) })));
    t.same(matches, [want], `${key} found at partition ${want.partition} offset ${want.offset}`);
    t.match(await text(page, '[data-testid="search-match"] [data-col="timestamp"]'), /^\d{4}-\d{2}-\d{2}T/, 'match timestamp shown');
    await page.screenshot({ path: join(artifacts, 'console-records.png'), fullPage: true });
  });

  t.test('the brokers page shows the cluster id, controller and nodes', async (t) => {
    await page.goto(`${base}/console/#/brokers`);
    await waitReady(page, 'brokers');
    t.equal(await text(page, '[data-testid="cluster-id"]'), broker.clusterId);
    t.equal(await page.locator('[data-testid="broker-row"]').count(), 1);
    t.equal(await page.locator(`[data-testid="broker-row"][data-node-id="${broker.nodeId}"]`).count(), 1);
  });

  t.test('no script errors in the page', async (t) => {
    t.same(pageErrors, []);
  });
});
