/**
 * The session inspector at `/ui`, in a real browser: a local stack on a free port (using the test
 * run's emulators through the endpoint variables) serving the survey example and an `orders`
 * workflow whose charge fails on its first attempt, driven over the HTTP API while Chromium
 * watches the page. The last test saves the screenshot in `docs/inspector.png`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as surveyApp from '../../examples/survey/app.ts';
import {
  defineWorkflow,
  type Kwargs,
  type SessionView,
  type TaskHandler,
} from '../../lib/index.ts';
import { type LocalStack, startLocalStack } from '../../lib/local/stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../docs/inspector.png', import.meta.url));
/** Generous: the machine is shared and the page polls once a second. */
const WAIT = { timeout: 60_000 };

/** An order: fetched once placed; charged once fetched and authorized; shipped once charged and packed. */
const orders = defineWorkflow('orders', {
  t_fetchOrder: { after: ['orderPlaced'], run: 'fetchOrder' },
  t_charge: { after: ['t_fetchOrder', 'paymentAuthorized'], run: 'charge' },
  t_ship: { after: ['t_charge', 'packed'], unless: ['cancelled'], run: 'ship' },
});

const orderHandlers: Record<string, TaskHandler> = {
  fetchOrder: ({ kwargs }) => ({ orderId: kwargs.orderPlaced?.orderId ?? null }),
  // The first run of every charge fails, so there is always something to replay.
  charge: ({ attempt }) => {
    if (attempt === 0) throw new Error('payment gateway timed out');
    return { charged: true };
  },
  ship: () => ({ shipped: true }),
};

/** An audit that finishes but logs a warning, so its logs wait to be resolved. */
const audits = defineWorkflow('audits', {
  t_audit: { after: ['auditRequested'], run: 'audit' },
});

const auditHandlers: Record<string, TaskHandler> = {
  audit: ({ kwargs, logger }) => {
    logger.warn('ledger total differs from the sum of its lines', {
      ledger: kwargs.auditRequested?.ledger ?? null,
    });
    return { audited: true };
  },
};

let stack: LocalStack | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let pageErrors: string[] = [];
let requested: string[] = [];

/** Why there is no browser, when Chromium is missing: every test then fails with it. */
let noBrowser: string | undefined;

function base(): string {
  if (noBrowser !== undefined) throw new Error(noBrowser);
  if (!stack) throw new Error('the local stack did not start');
  return stack.url;
}

async function fire(
  sessionId: string,
  trigger: string,
  kwargs?: Kwargs,
  workflow?: string,
): Promise<void> {
  const res = await fetch(`${base()}/sessions/${sessionId}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ trigger, kwargs, workflow }),
  });
  expect(res.status, await res.text()).toBe(202);
}

/** The session as the public HTTP API shows it. */
async function sessionView(sessionId: string): Promise<SessionView> {
  const res = await fetch(`${base()}/sessions/${sessionId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as SessionView;
}

async function openPage(path: string): Promise<Page> {
  if (!browser) throw new Error(noBrowser ?? 'the browser did not start');
  const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  p.on('pageerror', (err) => pageErrors.push(err.message));
  p.on('request', (req) => requested.push(req.url()));
  page = p;
  await p.goto(`${base()}${path}`);
  return p;
}

const row = (instance: string, status: string) =>
  `tr.instance[data-instance="${instance}"][data-status="${status}"]`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    noBrowser = `the inspector test drives Chromium at ${CHROMIUM}, which is missing: install the OS package "chromium"`;
    return;
  }
  stack = await startLocalStack({
    app: {
      workflows: [...surveyApp.workflows, orders, audits],
      handlers: { ...surveyApp.handlers, ...orderHandlers, ...auditHandlers },
      defaultWorkflow: surveyApp.defaultWorkflow,
    },
    port: 0,
    log: () => {},
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 120_000);

afterEach(async () => {
  await page?.close();
  page = undefined;
  expect(pageErrors, 'uncaught errors on the page').toEqual([]);
  // Same origin only: the page, its assets and the public HTTP API.
  expect(requested.filter((url) => !url.startsWith(`${base()}/`))).toEqual([]);
  pageErrors = [];
  requested = [];
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, 120_000);

describe('the session inspector at /ui', () => {
  it('draws the default workflow as a laid-out graph, one node per task and trigger', async () => {
    const p = await openPage('/ui');

    await p.waitForSelector('svg.graph[data-workflow="survey"]', WAIT);
    const nodes = await p.$$eval('svg.graph g.node', (els) =>
      els.map((el) => {
        const box = el.getBoundingClientRect();
        return {
          task: el.getAttribute('data-task'),
          trigger: el.getAttribute('data-trigger'),
          box: { x: box.x, y: box.y, w: box.width, h: box.height },
        };
      }),
    );

    const tasks = nodes.filter((n) => n.task !== null).map((n) => n.task);
    expect(tasks.sort()).toEqual([
      't_browserMeta',
      't_importResponses',
      't_importSubject',
      't_score',
    ]);
    const triggers = nodes.filter((n) => n.trigger !== null).map((n) => n.trigger);
    expect(triggers.sort()).toEqual([
      'isEmbeddedApp',
      'pageReceived',
      'sessionFinalized',
      'step1',
      'step4',
    ]);
    // Laid out: every node has a box of its own, and no two boxes overlap.
    for (const [i, a] of nodes.entries()) {
      expect(a.box.w).toBeGreaterThan(0);
      for (const b of nodes.slice(i + 1)) {
        const apart =
          a.box.x + a.box.w <= b.box.x ||
          b.box.x + b.box.w <= a.box.x ||
          a.box.y + a.box.h <= b.box.y ||
          b.box.y + b.box.h <= a.box.y;
        expect(apart, `${a.task ?? a.trigger} overlaps ${b.task ?? b.trigger}`).toBe(true);
      }
    }
    // Left to right: a cascade's source sits left of the task that waits for it.
    const x = (task: string) => nodes.find((n) => n.task === task)?.box.x ?? Number.NaN;
    expect(x('t_importSubject')).toBeLessThan(x('t_score'));
    expect(await p.locator('svg.graph g.edge').count()).toBe(8);
  });

  it('follows a session live: statuses, the triggers unstarted instances wait for, the timeline', async () => {
    const p = await openPage('/ui?session=order-live');
    await p.waitForSelector('#live[data-state="waiting"]', WAIT);

    await fire('order-live', 'orderPlaced', { orderId: 'A-17' }, 'orders');
    await p.waitForSelector(row('t_fetchOrder#0', 'finished'), WAIT);
    await p.waitForSelector('svg.graph[data-workflow="orders"]', WAIT);
    await p.waitForSelector(
      'svg.graph g.node[data-task="t_fetchOrder"][data-status="finished"]',
      WAIT,
    );
    await p.waitForSelector(
      `${row('t_charge#0', 'unstarted')} .waiting-for[data-trigger="paymentAuthorized"]`,
      WAIT,
    );

    await fire('order-live', 'packed');
    await p.waitForSelector(
      `${row('t_ship#0', 'unstarted')} .waiting-for[data-trigger="t_charge"]`,
      WAIT,
    );

    await fire('order-live', 'paymentAuthorized', { amount: 42 });
    await p.waitForSelector(row('t_charge#0', 'failed'), WAIT);
    const card = p.locator('.failed-card[data-instance="t_charge#0"]');
    await card.waitFor(WAIT);
    expect(await card.locator('.error-message').textContent()).toContain(
      'payment gateway timed out',
    );
    expect(await card.locator('pre.stack').textContent()).toContain('at charge');
    await p.waitForSelector('svg.graph g.node[data-task="t_charge"][data-status="failed"]', WAIT);

    // The timeline lists every accepted event in order: the API's fires and the cascade.
    await expect
      .poll(() => p.locator('table.timeline tr.event').count(), { timeout: WAIT.timeout })
      .toBe(4);
    const timeline = await p.$$eval('table.timeline tr.event', (rows) =>
      rows.map((r) => `${r.getAttribute('data-kind')} ${r.querySelector('.subject')?.textContent}`),
    );
    expect(timeline).toEqual([
      'fire orderPlaced',
      'fire t_fetchOrder',
      'fire packed',
      'fire paymentAuthorized',
    ]);
  });

  it('replays a failed instance from its Replay button and shows the clone finish', async () => {
    await fire('order-replay', 'orderPlaced', { orderId: 'B-4' }, 'orders');
    await fire('order-replay', 'packed');
    await fire('order-replay', 'paymentAuthorized', { amount: 7 });
    const p = await openPage('/ui#order-replay');

    await p.waitForSelector(row('t_charge#0', 'failed'), WAIT);
    await p.click('.failed-card[data-instance="t_charge#0"] button[data-action="replay"]');

    await p.waitForSelector(row('t_charge#0', 'replayed'), WAIT);
    await p.waitForSelector(row('t_charge#1', 'finished'), WAIT);
    expect(await p.locator(row('t_charge#1', 'finished')).textContent()).toContain(
      'from t_charge#0',
    );
    // The clone's cascade lets the shipment, which waited for it, run.
    await p.waitForSelector(row('t_ship#0', 'finished'), WAIT);
    await p.waitForSelector('.failed-card', { ...WAIT, state: 'detached' });
    await p.waitForSelector('table.timeline tr.event[data-kind="replay"]', WAIT);
  });

  it('skips a failed instance with a cascade and a stand-in result', async () => {
    await fire('order-skip', 'orderPlaced', { orderId: 'C-9' }, 'orders');
    await fire('order-skip', 'packed');
    await fire('order-skip', 'paymentAuthorized', { amount: 3 });
    const p = await openPage('/ui?session=order-skip');

    const card = '.failed-card[data-instance="t_charge#0"]';
    await p.waitForSelector(row('t_charge#0', 'failed'), WAIT);
    await p.check(`${card} input[data-action="cascade"]`);
    await p.fill(`${card} input[data-action="result"]`, '{"charged": false}');
    await p.click(`${card} button[data-action="skip"]`);

    await p.waitForSelector(row('t_charge#0', 'skipped'), WAIT);
    await p.waitForSelector(row('t_ship#0', 'finished'), WAIT);
    await p.waitForSelector('table.timeline tr.event[data-kind="skip"]', WAIT);
  });

  it("sets a failed instance's status from its Set status button, with a cascade", async () => {
    await fire('order-status', 'orderPlaced', { orderId: 'D-2' }, 'orders');
    await fire('order-status', 'packed');
    await fire('order-status', 'paymentAuthorized', { amount: 12 });
    const p = await openPage('/ui?session=order-status');

    const card = '.failed-card[data-instance="t_charge#0"]';
    await p.waitForSelector(row('t_charge#0', 'failed'), WAIT);
    // The shipment waits for the charge, which only a cascade can now provide.
    await p.waitForSelector(
      `${row('t_ship#0', 'unstarted')} .waiting-for[data-trigger="t_charge"]`,
      WAIT,
    );
    const picker = p.locator(`${card} .status-picker`);
    expect(await picker.isHidden()).toBe(true);
    await p.click(`${card} button[data-action="set-status"]`);
    await picker.waitFor({ ...WAIT, state: 'visible' });
    // The cascade box only applies to `finished`.
    await p.selectOption(`${card} select[data-action="status"]`, 'skipped');
    expect(await p.isDisabled(`${card} input[data-action="status-cascade"]`)).toBe(true);
    await p.selectOption(`${card} select[data-action="status"]`, 'finished');
    await p.check(`${card} input[data-action="status-cascade"]`);
    await p.click(`${card} button[data-action="apply-status"]`);

    await p.waitForSelector(row('t_charge#0', 'finished'), WAIT);
    await p.waitForSelector(row('t_ship#0', 'finished'), WAIT);
    await p.waitForSelector(card, { ...WAIT, state: 'detached' });
    await p.waitForSelector('table.timeline tr.event[data-kind="status"]', WAIT);
    expect(await p.locator('table.timeline tr.event[data-kind="status"]').textContent()).toContain(
      't_charge#0 → finished (cascade)',
    );

    const view = await sessionView('order-status');
    const status = (name: string) => view.instances.find((i) => i.name === name)?.status;
    expect(status('t_charge#0')).toBe('finished');
    expect(status('t_ship#0')).toBe('finished');
    // Set by hand, not replayed: no clone ran the charge again.
    expect(view.instances.some((i) => i.name === 't_charge#1')).toBe(false);
    expect(view.fired.t_charge).toEqual({ count: 1 });
  });

  it("resolves a warning instance's logs from its Resolve logs button", async () => {
    await fire('audit-warn', 'auditRequested', { ledger: 'L-310' }, 'audits');
    const p = await openPage('/ui?session=audit-warn');

    await p.waitForSelector(row('t_audit#0', 'finished'), WAIT);
    await p.waitForSelector('[data-unresolved-logs="t_audit#0"]', WAIT);
    expect((await sessionView('audit-warn')).unresolvedLogs).toEqual(['t_audit#0']);
    const card = '.logs-card[data-instance="t_audit#0"]';
    await p.waitForSelector(card, WAIT);
    expect(await p.locator(card).textContent()).toContain('logged at warn level');
    await p.click(`${card} button[data-action="resolve-logs"]`);

    await p.waitForSelector('[data-unresolved-logs=""]', WAIT);
    await p.waitForSelector(card, { ...WAIT, state: 'detached' });
    const view = await sessionView('audit-warn');
    expect(view.unresolvedLogs).toEqual([]);
    const audit = view.instances.find((i) => i.name === 't_audit#0');
    expect(audit?.logLevel).toBe('warn');
    expect(audit?.logsResolved).toBe(true);
    expect(audit?.status).toBe('finished');
  });

  it('shows lifecycle events in the timeline', async () => {
    const p = await openPage('/ui?session=order-lifecycle');
    await p.waitForSelector('#live[data-state="waiting"]', WAIT);
    await fire('order-lifecycle', 'orderPlaced', { orderId: 'E-5' }, 'orders');

    const fired = p.locator('table.timeline tr.lifecycle[data-detail-type="Trigger Fired"]');
    const placed = fired.filter({ hasText: 'orderPlaced' });
    await placed.waitFor(WAIT);
    const text = await placed.textContent();
    expect(text).toContain('Trigger Fired');
    expect(text).toContain('scheduled t_fetchOrder#0');
    // The fetch's cascade is heard too, scheduling nothing (the charge waits for payment).
    const cascade = fired.filter({ hasText: 't_fetchOrder' }).filter({ hasNotText: 'orderPlaced' });
    await cascade.waitFor(WAIT);
    expect(await cascade.textContent()).toContain('scheduled nothing');
  });

  it('shows a survey session end to end, saved as the docs screenshot', async () => {
    const id = 'survey-2041';
    await fire(id, 'step4');
    await fire(id, 'step1', {
      subjectId: 'subj-8842',
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)',
    });
    await fire(id, 'pageReceived', { page: 1, answers: [3, 5, 4, 2] });
    await fire(id, 'pageReceived', { page: 2, answers: [1, 4] });
    await fire(id, 'pageReceived', { page: 3, answers: [] });
    const p = await openPage(`/ui?session=${id}`);

    await p.waitForSelector(row('t_importSubject#0', 'finished'), WAIT);
    await p.waitForSelector(row('t_browserMeta#0', 'finished'), WAIT);
    await p.waitForSelector(row('t_importResponses#0', 'finished'), WAIT);
    await p.waitForSelector(row('t_importResponses#1', 'finished'), WAIT);
    await p.waitForSelector(row('t_importResponses#2', 'skipped'), WAIT);
    await p.waitForSelector(
      `${row('t_score#0', 'unstarted')} .waiting-for[data-trigger="sessionFinalized"]`,
      WAIT,
    );
    // Five fires from the API and t_importSubject's cascade; the leaf tasks write none.
    await expect
      .poll(
        async () => [
          await p.locator('table.timeline tr.event').count(),
          await p.locator('table.timeline .pending').count(),
        ],
        { timeout: WAIT.timeout },
      )
      .toEqual([6, 0]);
    await p.waitForSelector('#live[data-state="live"]', WAIT);

    await p.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
