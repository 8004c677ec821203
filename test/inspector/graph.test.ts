/**
 * The inspector's workflow graph without a browser: the nodes and edges it derives from
 * `GET /workflows`, and the dagre layout (text measured by a stand-in).
 */
import { describe, expect, it } from 'vitest';
import type { WorkflowInfo } from '../../lib/local/inspector/page/api.ts';
import {
  graphModel,
  layoutGraph,
  leadingStatus,
  statusSummary,
} from '../../lib/local/inspector/page/graph.ts';

const survey: WorkflowInfo = {
  name: 'survey',
  tasks: [
    {
      name: 't_importSubject',
      after: ['step1', 'step4'],
      unless: [],
      run: 'importSubject',
      maxRetries: 3,
    },
    {
      name: 't_importResponses',
      after: ['t_importSubject'],
      andEvery: 'pageReceived',
      unless: [],
      run: 'importResponses',
      maxRetries: 3,
    },
    {
      name: 't_browserMeta',
      after: ['step1'],
      unless: ['isEmbeddedApp'],
      run: 'browserMeta',
      maxRetries: 3,
    },
  ],
};

const measure = (text: string) => text.length * 7;

describe('graphModel', () => {
  it('makes outside triggers nodes and names every edge by its directive', () => {
    const model = graphModel(survey);

    expect(model.triggers).toEqual(['step1', 'step4', 'pageReceived', 'isEmbeddedApp']);
    expect(model.edges).toEqual([
      { from: 'step1', to: 't_importSubject', kind: 'after' },
      { from: 'step4', to: 't_importSubject', kind: 'after' },
      { from: 't_importSubject', to: 't_importResponses', kind: 'cascade' },
      { from: 'pageReceived', to: 't_importResponses', kind: 'andEvery' },
      { from: 'step1', to: 't_browserMeta', kind: 'after' },
      { from: 'isEmbeddedApp', to: 't_browserMeta', kind: 'unless' },
    ]);
  });
});

describe('layoutGraph', () => {
  it('places every node apart, left to right along its dependencies', () => {
    const layout = layoutGraph(graphModel(survey), measure);

    const at = new Map(layout.nodes.map((n) => [n.name, n]));
    expect(at.size).toBe(7);
    const spots = new Set(layout.nodes.map((n) => `${n.x},${n.y}`));
    expect(spots.size).toBe(7);
    expect(at.get('step1')?.x).toBeLessThan(at.get('t_importSubject')?.x ?? 0);
    expect(at.get('t_importSubject')?.x).toBeLessThan(at.get('t_importResponses')?.x ?? 0);
    expect(layout.width).toBeGreaterThan(0);
    expect(layout.height).toBeGreaterThan(0);
  });

  it('routes each edge from its source’s right side to its target’s left side', () => {
    const layout = layoutGraph(graphModel(survey), measure);

    const at = new Map(layout.nodes.map((n) => [n.name, n]));
    for (const e of layout.edges) {
      const from = at.get(e.from);
      const to = at.get(e.to);
      const first = e.points[0];
      const last = e.points[e.points.length - 1];
      expect(first?.x).toBeCloseTo((from?.x ?? 0) + (from?.width ?? 0) / 2);
      expect(last?.x).toBeCloseTo((to?.x ?? 0) - (to?.width ?? 0) / 2);
    }
    const labels = layout.edges.flatMap((e) => (e.label ? [e.label.text] : []));
    expect(labels.sort()).toEqual(['every', 'unless']);
  });

  it('makes a task node wide enough for its name and its status line', () => {
    const model = graphModel(survey);
    const overlay = { fired: {}, statuses: { t_browserMeta: { finished: 12, skipped: 3 } } };

    const plain = layoutGraph(model, measure).nodes.find((n) => n.name === 't_browserMeta');
    const busy = layoutGraph(model, measure, overlay).nodes.find((n) => n.name === 't_browserMeta');

    expect(plain?.width).toBeGreaterThanOrEqual(measure('t_browserMeta'));
    expect(busy?.width).toBeGreaterThanOrEqual(measure('12 finished · 3 skipped'));
    expect(busy?.height).toBeGreaterThan(plain?.height ?? 0);
  });
});

describe('status lines', () => {
  it('colour a task by its most pressing status and count the rest', () => {
    expect(leadingStatus({ finished: 2, failed: 1 })).toBe('failed');
    expect(leadingStatus({})).toBeUndefined();
    expect(statusSummary({ finished: 2, unstarted: 1 })).toBe('1 unstarted · 2 finished');
    expect(statusSummary(undefined)).toBe('no instance yet');
  });
});
