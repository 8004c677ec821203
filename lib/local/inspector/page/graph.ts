/**
 * The workflow graph of the inspector: triggers and tasks as nodes, `after` / `andEvery` /
 * `unless` / cascade dependencies as edges, laid out by dagre (left to right) and drawn as SVG.
 * A session overlays it: how often each trigger fired, and each task's instances by status.
 * May import: its siblings, the public types (lib/types.ts) and dagre; it runs in the browser.
 *
 * @module
 */
import dagre from '@dagrejs/dagre';
import type { InstanceStatus } from '../../../types.ts';
import type { WorkflowInfo } from './api.ts';
import { svg } from './elements.ts';

/** How a task depends on a trigger; `cascade` is an `after` / `andEvery` naming a task. */
export type EdgeKind = 'after' | 'andEvery' | 'unless' | 'cascade';

/** A workflow as nodes and edges. */
export interface GraphModel {
  workflow: string;
  /** Triggers that are no task's name: fired from outside. */
  triggers: string[];
  tasks: Array<{ name: string; run: string }>;
  edges: Array<{ from: string; to: string; kind: EdgeKind }>;
}

/** A point in SVG user units. */
type Point = { x: number; y: number };

/** A node placed by the layout; `x`, `y` are its centre. */
export interface PlacedNode {
  name: string;
  kind: 'trigger' | 'task';
  x: number;
  y: number;
  width: number;
  height: number;
}

/** An edge routed by the layout, with its label's centre when it has one. */
export interface PlacedEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  points: Point[];
  label?: { text: string; x: number; y: number };
}

/** The laid-out graph, in SVG user units. */
export interface GraphLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

/** What a session adds to the drawing. */
export interface GraphOverlay {
  /** Fire counts by trigger (cascades included). */
  fired: Record<string, { count: number }>;
  /** Instance counts by task and status. */
  statuses: Record<string, Partial<Record<InstanceStatus, number>>>;
}

/** Measures the width of `text` in pixels, drawn in `font` (a CSS font shorthand). */
export type MeasureText = (text: string, font: string) => number;

/** The fonts nodes are drawn with; the stylesheet uses the same. */
export const GRAPH_FONTS = {
  trigger: '500 12px ui-sans-serif, system-ui, sans-serif',
  task: '600 13px ui-sans-serif, system-ui, sans-serif',
  detail: '11px ui-sans-serif, system-ui, sans-serif',
} as const;

const EDGE_LABELS: Partial<Record<EdgeKind, string>> = { andEvery: 'every', unless: 'unless' };

/**
 * The statuses, most pressing first: a task takes the colour of the first one it has an
 * instance in.
 */
export const STATUS_ORDER: readonly InstanceStatus[] = [
  'failed',
  'running',
  'scheduled',
  'unstarted',
  'finished',
  'skipped',
  'replayed',
  'abandoned',
];

/**
 * The graph of a workflow as `GET /workflows` describes it. The edge rules are the CLI's
 * (`lib/cli/graph.ts`); they are restated here over the API's task list because that module
 * validates through the engine, which the page should not bundle.
 *
 * @example
 * graphModel({ name: 'w', tasks: [{ name: 't_a', after: ['go'], unless: [], run: 'a' }] }).edges;
 * // [{ from: 'go', to: 't_a', kind: 'after' }]
 */
export function graphModel(workflow: WorkflowInfo): GraphModel {
  const taskNames = new Set(workflow.tasks.map((t) => t.name));
  const triggers: string[] = [];
  const edges: GraphModel['edges'] = [];
  const add = (from: string, to: string, kind: EdgeKind) => {
    if (!taskNames.has(from) && !triggers.includes(from)) triggers.push(from);
    edges.push({ from, to, kind: kind !== 'unless' && taskNames.has(from) ? 'cascade' : kind });
  };
  for (const task of workflow.tasks) {
    // `andEvery` is implicitly part of `after`: one edge says it, whichever list repeats it.
    for (const t of task.after) if (t !== task.andEvery) add(t, task.name, 'after');
    if (task.andEvery !== undefined) add(task.andEvery, task.name, 'andEvery');
    for (const t of task.unless) add(t, task.name, 'unless');
  }
  return {
    workflow: workflow.name,
    triggers,
    tasks: workflow.tasks.map((t) => ({ name: t.name, run: t.run })),
    edges,
  };
}

/**
 * The most pressing status a task has an instance in, if any.
 *
 * @example
 * leadingStatus({ finished: 2, failed: 1 }); // 'failed'
 */
export function leadingStatus(
  counts: Partial<Record<InstanceStatus, number>> | undefined,
): InstanceStatus | undefined {
  return STATUS_ORDER.find((s) => (counts?.[s] ?? 0) > 0);
}

/**
 * One line saying how many instances a task has in each status: `2 finished · 1 unstarted`.
 *
 * @example
 * statusSummary({ finished: 2 }); // '2 finished'
 */
export function statusSummary(counts: Partial<Record<InstanceStatus, number>> | undefined): string {
  const parts = STATUS_ORDER.filter((s) => (counts?.[s] ?? 0) > 0).map(
    (s) => `${counts?.[s]} ${s}`,
  );
  return parts.length > 0 ? parts.join(' · ') : 'no instance yet';
}

const TASK_HEIGHT = 48;
/** A task node drawn with a session also shows its status line and bar. */
const TASK_HEIGHT_IN_SESSION = 66;
const TRIGGER_HEIGHT = 32;
const TASK_PAD = 15;
const TRIGGER_PAD = 34;

/**
 * Lays the graph out left to right with dagre. Node widths come from `measure`, so names are
 * never clipped; a task node also fits the longest status line `overlay` gives it.
 *
 * @example
 * const layout = layoutGraph(graphModel(workflow), (text) => text.length * 7);
 */
export function layoutGraph(
  model: GraphModel,
  measure: MeasureText,
  overlay?: GraphOverlay,
): GraphLayout {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 52, edgesep: 12, marginx: 14, marginy: 14 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const t of model.triggers) {
    const width = Math.max(84, measure(t, GRAPH_FONTS.trigger) + TRIGGER_PAD + 22);
    g.setNode(t, { width, height: TRIGGER_HEIGHT, kind: 'trigger' });
  }
  for (const t of model.tasks) {
    const widest = Math.max(
      measure(t.name, GRAPH_FONTS.task),
      measure(`run ${t.run}`, GRAPH_FONTS.detail),
      measure(statusSummary(overlay?.statuses[t.name]), GRAPH_FONTS.detail),
    );
    g.setNode(t.name, {
      width: Math.max(130, widest + TASK_PAD * 2),
      height: overlay ? TASK_HEIGHT_IN_SESSION : TASK_HEIGHT,
      kind: 'task',
    });
  }
  for (const e of model.edges) {
    const text = EDGE_LABELS[e.kind];
    g.setEdge(
      e.from,
      e.to,
      text === undefined
        ? {}
        : { label: text, width: measure(text, GRAPH_FONTS.detail) + 8, height: 14, labelpos: 'c' },
      e.kind,
    );
  }
  dagre.layout(g);

  const nodes: PlacedNode[] = g.nodes().map((name: string) => {
    const n = g.node(name) as { x: number; y: number; width: number; height: number; kind: string };
    return {
      name,
      kind: n.kind === 'trigger' ? 'trigger' : 'task',
      x: n.x,
      y: n.y,
      width: n.width,
      height: n.height,
    };
  });
  const placed = new Map(nodes.map((n) => [n.name, n]));
  const routed = model.edges.map((e) => {
    const label = g.edge(e.from, e.to, e.kind) as {
      points?: Point[];
      x?: number;
      y?: number;
      label?: string;
    };
    const text = label.label;
    const points = label.points ?? [];
    // Between adjacent ranks dagre's middle point only bends the line; a labelled or longer
    // edge keeps its inner points, which carry the label and go around other nodes.
    const inner = text === undefined && points.length <= 3 ? [] : points.slice(1, -1);
    return {
      ...e,
      inner,
      ...(text !== undefined && label.x !== undefined && label.y !== undefined
        ? { label: { text, x: label.x, y: label.y } }
        : {}),
    };
  });
  const ports = portsOf(placed, routed);
  const edges: PlacedEdge[] = routed.map(({ inner, ...e }, i) => ({
    ...e,
    points: [ports.out[i] as Point, ...inner, ports.in[i] as Point],
  }));
  const size = g.graph() as { width?: number; height?: number };
  return { width: size.width ?? 0, height: size.height ?? 0, nodes, edges };
}

/**
 * Where each edge leaves its source (right side) and enters its target (left side). Edges
 * sharing a side are spread along it in the order of where they come from, so they neither
 * cross at the node nor stack their arrowheads.
 */
function portsOf(
  nodes: ReadonlyMap<string, PlacedNode>,
  edges: ReadonlyArray<{ from: string; to: string; inner: Point[] }>,
): { out: Point[]; in: Point[] } {
  const out: Point[] = [];
  const into: Point[] = [];
  const spread = (side: 'out' | 'in') => {
    const groups = new Map<string, Array<{ i: number; towards: number }>>();
    edges.forEach((e, i) => {
      const own = side === 'out' ? e.from : e.to;
      const other = nodes.get(side === 'out' ? e.to : e.from);
      const next = side === 'out' ? e.inner[0] : e.inner[e.inner.length - 1];
      const group = groups.get(own) ?? [];
      group.push({ i, towards: next?.y ?? other?.y ?? 0 });
      groups.set(own, group);
    });
    for (const [name, group] of groups) {
      const n = nodes.get(name);
      if (!n) continue;
      group.sort((a, b) => a.towards - b.towards);
      const step = Math.min(10, (n.height - 12) / Math.max(1, group.length - 1));
      group.forEach(({ i }, k) => {
        const y = n.y + (k - (group.length - 1) / 2) * step;
        const x = side === 'out' ? n.x + n.width / 2 : n.x - n.width / 2;
        (side === 'out' ? out : into)[i] = { x, y };
      });
    }
  };
  spread('out');
  spread('in');
  return { out, in: into };
}

/**
 * A smooth left-to-right path through the points: a horizontal S-curve between consecutive
 * points, so edges leave and enter nodes level instead of looping around their corners.
 */
function curve(points: readonly Point[]): string {
  const first = points[0];
  if (!first) return '';
  let d = `M${first.x},${first.y}`;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1] as Point;
    const b = points[i] as Point;
    const dx = (b.x - a.x) / 2;
    d += `C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
  }
  return d;
}

function markers(): SVGDefsElement {
  const arrow = (kind: EdgeKind) =>
    svg(
      'marker',
      {
        id: `arrow-${kind}`,
        class: `marker marker-${kind}`,
        viewBox: '0 0 10 10',
        refX: kind === 'unless' ? 5 : 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: 'auto-start-reverse',
      },
      kind === 'unless'
        ? svg('path', { d: 'M5,0 L5,10', 'stroke-width': 2.4 })
        : svg('path', { d: 'M0,0 L10,5 L0,10 z' }),
    );
  return svg('defs', {}, arrow('after'), arrow('andEvery'), arrow('unless'), arrow('cascade'));
}

function triggerNode(node: PlacedNode, fired: number): SVGGElement {
  const w = node.width;
  const hgt = node.height;
  return svg(
    'g',
    {
      class: `node trigger ${fired > 0 ? 'fired' : 'unfired'}`,
      transform: `translate(${node.x - w / 2},${node.y - hgt / 2})`,
      'data-trigger': node.name,
      'data-x': Math.round(node.x),
      'data-y': Math.round(node.y),
    },
    svg('title', {}, fired > 0 ? `${node.name}: fired ${fired}×` : `${node.name}: not fired`),
    svg('rect', { width: w, height: hgt, rx: hgt / 2 }),
    svg('text', { class: 'label', x: 14, y: hgt / 2, 'dominant-baseline': 'central' }, node.name),
    fired > 0 &&
      svg(
        'g',
        { class: 'count', transform: `translate(${w - 17},${hgt / 2})` },
        svg('circle', { r: 10 }),
        svg(
          'text',
          { 'text-anchor': 'middle', 'dominant-baseline': 'central' },
          fired > 99 ? '99+' : fired,
        ),
      ),
  );
}

function taskNode(
  node: PlacedNode,
  run: string,
  counts: Partial<Record<InstanceStatus, number>> | undefined,
  inSession: boolean,
): SVGGElement {
  const w = node.width;
  const hgt = node.height;
  const lead = leadingStatus(counts);
  const total = Object.values(counts ?? {}).reduce((a, b) => a + (b ?? 0), 0);
  const bar: SVGElement[] = [];
  const span = w - 2 * TASK_PAD;
  let x = TASK_PAD;
  for (const s of STATUS_ORDER) {
    const n = counts?.[s] ?? 0;
    if (n === 0) continue;
    const width = (span * n) / total;
    bar.push(svg('rect', { class: `seg status-${s}`, x, y: hgt - 8, width, height: 3 }));
    x += width;
  }
  return svg(
    'g',
    {
      class: `node task ${lead ? `status-${lead}` : 'status-none'}`,
      transform: `translate(${node.x - w / 2},${node.y - hgt / 2})`,
      'data-task': node.name,
      'data-status': lead ?? 'none',
      'data-x': Math.round(node.x),
      'data-y': Math.round(node.y),
    },
    svg('title', {}, `${node.name} (run ${run}): ${statusSummary(counts)}`),
    svg('rect', { class: 'box', width: w, height: hgt, rx: 7 }),
    svg('rect', { class: 'accent', width: 5, height: hgt - 12, x: 0, y: 6, rx: 2 }),
    ...bar,
    svg('text', { class: 'label', x: TASK_PAD, y: 19 }, node.name),
    svg('text', { class: 'detail', x: TASK_PAD, y: 34 }, `run ${run}`),
    inSession &&
      svg('text', { class: 'detail summary', x: TASK_PAD, y: 48 }, statusSummary(counts)),
  );
}

/**
 * Draws a laid-out graph as an SVG element, coloured by the session overlay when there is one.
 * Classes (`node task status-failed`, `edge edge-unless`, ...) carry every colour, so the
 * stylesheet and the legend agree.
 *
 * @example
 * panel.replaceChildren(renderGraph(model, layoutGraph(model, measure), overlay));
 */
export function renderGraph(
  model: GraphModel,
  layout: GraphLayout,
  overlay?: GraphOverlay,
): SVGSVGElement {
  const run = new Map(model.tasks.map((t) => [t.name, t.run]));
  const edges = layout.edges.map((e) =>
    svg(
      'g',
      { class: `edge edge-${e.kind}`, 'data-from': e.from, 'data-to': e.to },
      svg('path', {
        d: curve(e.points),
        'marker-end': `url(#arrow-${e.kind})`,
      }),
      e.label &&
        svg(
          'text',
          {
            class: 'edge-label',
            x: e.label.x,
            y: e.label.y,
            'text-anchor': 'middle',
            'dominant-baseline': 'central',
          },
          e.label.text,
        ),
    ),
  );
  const nodes = layout.nodes.map((n) =>
    n.kind === 'trigger'
      ? triggerNode(n, overlay?.fired[n.name]?.count ?? 0)
      : taskNode(n, run.get(n.name) ?? '', overlay?.statuses[n.name], overlay !== undefined),
  );
  return svg(
    'svg',
    {
      class: 'graph',
      viewBox: `0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`,
      width: Math.ceil(layout.width),
      height: Math.ceil(layout.height),
      role: 'img',
      'aria-label': `workflow ${model.workflow}`,
      'data-workflow': model.workflow,
    },
    markers(),
    svg('g', { class: 'edges' }, ...edges),
    svg('g', { class: 'nodes' }, ...nodes),
  );
}
