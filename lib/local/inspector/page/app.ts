/**
 * The session inspector page: loads the workflows, opens the session named by `?session=ID`,
 * `#ID` or the form, and polls it every second, redrawing the graph, the instances, the
 * instances that need attention (failed, or with unresolved warnings) and the timeline (with the
 * lifecycle events the local stack heard) when what the API answers changes. Replay, Skip,
 * Resolve logs and Set status… go through the same public API.
 * May import: its siblings and the public types (lib/types.ts); it runs in the browser.
 *
 * @module
 */
import type { InstanceStatus, SessionEvents, SessionView, WorkflowsView } from '../../../types.ts';
import { type AdminActions, adminControls, cardKey, logsCard, needsAttention } from './admin.ts';
import { createInspectorApi, type InspectorApi, type LifecycleNotice } from './api.ts';
import { clockTime, h } from './elements.ts';
import {
  type GraphOverlay,
  graphModel,
  layoutGraph,
  type MeasureText,
  renderGraph,
} from './graph.ts';
import {
  type FailedActions,
  failedCard,
  instanceTable,
  legend,
  sessionSummary,
  timelineTable,
} from './views.ts';

/** How often an open session is read again, in milliseconds. */
const POLL_MS = 1000;

/** The page's elements, found once. */
interface Elements {
  form: HTMLFormElement;
  sessionInput: HTMLInputElement;
  recent: HTMLDataListElement;
  workflowSelect: HTMLSelectElement;
  live: HTMLElement;
  banner: HTMLElement;
  summary: HTMLElement;
  graph: HTMLElement;
  graphTitle: HTMLElement;
  legend: HTMLElement;
  failed: HTMLElement;
  failedList: HTMLElement;
  instances: HTMLElement;
  timeline: HTMLElement;
  timelineCount: HTMLElement;
}

/** Everything the page knows; one per page, passed around rather than global. */
interface Inspector {
  readonly api: InspectorApi;
  readonly el: Elements;
  readonly measure: MeasureText;
  workflows?: WorkflowsView;
  /** The workflow drawn when no session is open. */
  browsing?: string;
  sessionId?: string;
  /** Bumped whenever another session is opened: a poll of an older one stops. */
  generation: number;
  timer?: ReturnType<typeof setTimeout>;
  session?: SessionView;
  timeline?: SessionEvents;
  /** The lifecycle events the server heard for the session (none where it keeps none). */
  lifecycle: LifecycleNotice[];
  /** The last JSON drawn per panel, so an unchanged answer redraws nothing. */
  drawn: Map<string, string>;
  expanded: Set<string>;
  /** The cards of instances that need attention, by `cardKey`. */
  failedCards: Map<string, HTMLElement>;
  recent: string[];
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
}

function findElements(): Elements {
  return {
    form: byId('session-form'),
    sessionInput: byId('session-id'),
    recent: byId('recent-sessions'),
    workflowSelect: byId('workflow'),
    live: byId('live'),
    banner: byId('banner'),
    summary: byId('summary'),
    graph: byId('graph'),
    graphTitle: byId('graph-title'),
    legend: byId('legend'),
    failed: byId('failed'),
    failedList: byId('failed-list'),
    instances: byId('instances'),
    timeline: byId('timeline'),
    timelineCount: byId('timeline-count'),
  };
}

function canvasMeasure(): MeasureText {
  const ctx = document.createElement('canvas').getContext('2d');
  return (text, font) => {
    if (!ctx) return text.length * 7.5;
    ctx.font = font;
    return ctx.measureText(text).width;
  };
}

/** Redraws a panel only when its data changed since the last time. */
function changed(app: Inspector, panel: string, data: unknown): boolean {
  const json = JSON.stringify(data) ?? '';
  if (app.drawn.get(panel) === json) return false;
  app.drawn.set(panel, json);
  return true;
}

function setLive(app: Inspector, state: 'idle' | 'live' | 'waiting' | 'down', text: string): void {
  app.el.live.dataset.state = state;
  app.el.live.replaceChildren(h('span', { class: 'dot' }), text);
}

function showBanner(app: Inspector, text: string | undefined): void {
  app.el.banner.hidden = text === undefined;
  app.el.banner.textContent = text ?? '';
}

function overlayOf(session: SessionView): GraphOverlay {
  const statuses: Record<string, Partial<Record<InstanceStatus, number>>> = {};
  for (const i of session.instances) {
    const counts = statuses[i.task] ?? {};
    counts[i.status] = (counts[i.status] ?? 0) + 1;
    statuses[i.task] = counts;
  }
  return { fired: session.fired, statuses };
}

function drawGraph(app: Inspector): void {
  const name =
    app.session?.workflow ??
    app.browsing ??
    app.workflows?.defaultWorkflow ??
    app.workflows?.workflows[0]?.name;
  const workflow = app.workflows?.workflows.find((w) => w.name === name);
  const overlay = app.session ? overlayOf(app.session) : undefined;
  if (!changed(app, 'graph', { name, found: workflow !== undefined, overlay })) return;
  app.el.workflowSelect.value = name ?? '';
  app.el.workflowSelect.disabled = app.session !== undefined;
  if (!workflow) {
    app.el.graphTitle.textContent = 'Workflow';
    app.el.graph.replaceChildren(
      h('p', { class: 'empty' }, app.workflows ? `No workflow named ${name ?? '?'}.` : 'Loading…'),
    );
    return;
  }
  app.el.graphTitle.textContent = `Workflow ${workflow.name}`;
  const model = graphModel(workflow);
  app.el.graph.replaceChildren(
    renderGraph(model, layoutGraph(model, app.measure, overlay), overlay),
  );
}

function drawSession(app: Inspector): void {
  const s = app.session;
  if (changed(app, 'summary', [app.sessionId, s])) {
    app.el.summary.replaceChildren(
      s
        ? sessionSummary(s)
        : h(
            'p',
            { class: 'empty' },
            app.sessionId === undefined
              ? 'Open a session to follow its instances live.'
              : `Session ${app.sessionId} does not exist yet: it appears with its first event.`,
          ),
    );
  }
  if (changed(app, 'instances', [s?.instances, [...app.expanded]])) {
    app.el.instances.replaceChildren(
      s
        ? instanceTable(s.instances, app.expanded, (name) => {
            if (!app.expanded.delete(name)) app.expanded.add(name);
            drawSession(app);
          })
        : h('p', { class: 'empty' }, 'No session open.'),
    );
  }
  drawFailed(app);
  const events = app.timeline?.events ?? [];
  const heard = app.lifecycle;
  if (changed(app, 'timeline', [app.sessionId, events, heard])) {
    app.el.timelineCount.textContent = [
      events.length > 0 ? `${events.length} events` : '',
      heard.length > 0 ? `${heard.length} lifecycle` : '',
    ]
      .filter((t) => t !== '')
      .join(' · ');
    app.el.timeline.replaceChildren(
      app.timeline || heard.length > 0
        ? timelineTable(events, heard)
        : h('p', { class: 'empty' }, 'No session open.'),
    );
  }
}

/**
 * Keeps one card per instance that needs attention (failed, or with unresolved warnings), so a
 * half-filled Skip or Set status form survives the next poll; a card is rebuilt when what it
 * shows of its instance changes.
 */
function drawFailed(app: Inspector): void {
  const attention = (app.session?.instances ?? []).filter(needsAttention);
  const keys = new Set(attention.map(cardKey));
  for (const [key, card] of app.failedCards) {
    if (!keys.has(key)) {
      card.remove();
      app.failedCards.delete(key);
    }
  }
  app.el.failed.hidden = attention.length === 0;
  const sessionId = app.sessionId;
  if (sessionId === undefined) return;
  const actions: FailedActions = {
    replay: async (instance) => {
      await app.api.replay(sessionId, instance);
      void poll(app, app.generation);
    },
    skip: async (instance, opts) => {
      await app.api.skip(sessionId, instance, opts);
      void poll(app, app.generation);
    },
  };
  const admin: AdminActions = {
    resolveLogs: async (instance) => {
      await app.api.resolveLogs(sessionId, instance);
      void poll(app, app.generation);
    },
    setStatus: async (instance, request) => {
      await app.api.setStatus(sessionId, instance, request);
      void poll(app, app.generation);
    },
  };
  for (const i of attention) {
    const key = cardKey(i);
    if (app.failedCards.has(key)) continue;
    let card: HTMLElement;
    if (i.status === 'failed') {
      card = failedCard(i, actions);
      card.append(adminControls(i, admin));
    } else {
      card = logsCard(i, admin);
    }
    app.failedCards.set(key, card);
    app.el.failedList.append(card);
  }
}

async function poll(app: Inspector, generation: number): Promise<void> {
  const sessionId = app.sessionId;
  if (sessionId === undefined || generation !== app.generation) return;
  clearTimeout(app.timer);
  try {
    const [session, timeline, lifecycle] = await Promise.all([
      app.api.session(sessionId),
      app.api.timeline(sessionId),
      // The lifecycle route is the local stack's own: a server without it shows events only.
      app.api.lifecycle(sessionId).catch(() => undefined),
    ]);
    if (generation !== app.generation) return;
    app.session = session;
    app.timeline = timeline;
    app.lifecycle = lifecycle ?? [];
    if (session) setLive(app, 'live', `live · ${clockTime(new Date().toISOString())}`);
    else setLive(app, 'waiting', 'waiting for the session’s first event');
    showBanner(app, undefined);
  } catch (err) {
    if (generation !== app.generation) return;
    setLive(app, 'down', 'API unreachable, retrying');
    showBanner(app, `Reading session ${sessionId} failed: ${(err as Error).message}`);
  }
  drawGraph(app);
  drawSession(app);
  // A poll started by a button may overlap the periodic one: keep a single timer either way.
  clearTimeout(app.timer);
  app.timer = setTimeout(() => void poll(app, generation), POLL_MS);
}

/** Opens a session (or none): resets what was shown, puts it in the URL, starts polling. */
function open(app: Inspector, sessionId: string | undefined): void {
  app.generation += 1;
  clearTimeout(app.timer);
  app.sessionId = sessionId;
  app.session = undefined;
  app.timeline = undefined;
  app.lifecycle = [];
  app.expanded.clear();
  for (const card of app.failedCards.values()) card.remove();
  app.failedCards.clear();
  app.el.sessionInput.value = sessionId ?? '';
  const url = new URL(window.location.href);
  url.hash = '';
  if (sessionId === undefined) url.searchParams.delete('session');
  else url.searchParams.set('session', sessionId);
  window.history.replaceState(null, '', url);
  document.title = sessionId ? `${sessionId} · triggers inspector` : 'triggers inspector';
  if (sessionId !== undefined && !app.recent.includes(sessionId)) {
    app.recent.unshift(sessionId);
    app.el.recent.replaceChildren(...app.recent.map((s) => h('option', { value: s })));
  }
  if (sessionId === undefined) setLive(app, 'idle', 'no session open');
  else setLive(app, 'waiting', 'loading…');
  drawGraph(app);
  drawSession(app);
  void poll(app, app.generation);
}

/** The session the address names: `?session=ID`, else `#ID`. */
function sessionFromLocation(): string | undefined {
  const url = new URL(window.location.href);
  const id = url.searchParams.get('session') ?? decodeURIComponent(url.hash.replace(/^#/, ''));
  return id.trim() === '' ? undefined : id.trim();
}

async function loadWorkflows(app: Inspector): Promise<void> {
  for (;;) {
    try {
      app.workflows = await app.api.workflows();
      showBanner(app, undefined);
      break;
    } catch (err) {
      showBanner(app, `Reading the workflows failed: ${(err as Error).message}; retrying.`);
      await new Promise((r) => setTimeout(r, 2 * POLL_MS));
    }
  }
  app.el.workflowSelect.replaceChildren(
    ...app.workflows.workflows.map((w) => h('option', { value: w.name }, w.name)),
  );
  drawGraph(app);
}

/**
 * Starts the inspector on the current page.
 *
 * @example
 * startInspector(createInspectorApi());
 */
export function startInspector(api: InspectorApi): void {
  const app: Inspector = {
    api,
    el: findElements(),
    measure: canvasMeasure(),
    generation: 0,
    lifecycle: [],
    drawn: new Map(),
    expanded: new Set(),
    failedCards: new Map(),
    recent: [],
  };
  app.el.legend.replaceChildren(legend());
  app.el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = app.el.sessionInput.value.trim();
    open(app, id === '' ? undefined : id);
  });
  app.el.workflowSelect.addEventListener('change', () => {
    app.browsing = app.el.workflowSelect.value;
    drawGraph(app);
  });
  window.addEventListener('hashchange', () => {
    const id = sessionFromLocation();
    if (id !== app.sessionId) open(app, id);
  });
  open(app, sessionFromLocation());
  void loadWorkflows(app);
}

startInspector(createInspectorApi());
