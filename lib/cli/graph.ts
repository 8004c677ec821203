/**
 * The workflow graph of `triggers graph`: triggers and tasks as nodes, `after` / `andEvery` /
 * `unless` / cascade dependencies as edges, rendered as Mermaid or DOT.
 * May import: anything under lib/ (cli).
 *
 * @module
 */
import { compileWorkflow } from '../engine/workflow.ts';
import type { Workflow } from '../types.ts';

/** How a task depends on a trigger. `cascade`: an `after` or `andEvery` naming another task. */
export type EdgeKind = 'after' | 'andEvery' | 'unless' | 'cascade';

/** One dependency: `from` (a trigger or task) → `to` (a task). */
export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
}

/** A workflow's graph. */
export interface WorkflowGraph {
  workflow: string;
  tasks: string[];
  /** Triggers that are not task names (fired from outside). */
  triggers: string[];
  edges: GraphEdge[];
}

/**
 * The graph of a workflow.
 *
 * @example
 * graphOf(defineWorkflow('w', { t_a: { after: ['go'], run: 'h' } })).edges;
 * // [{ from: 'go', to: 't_a', kind: 'after' }]
 */
export function graphOf(workflow: Workflow): WorkflowGraph {
  const compiled = compileWorkflow(workflow);
  const tasks = [...compiled.tasks.keys()];
  const triggers = new Set<string>();
  const edges: GraphEdge[] = [];
  const add = (from: string, to: string, kind: EdgeKind) => {
    if (!compiled.tasks.has(from)) triggers.add(from);
    edges.push({ from, to, kind });
  };
  for (const task of compiled.tasks.values()) {
    for (const t of task.after) add(t, task.name, compiled.tasks.has(t) ? 'cascade' : 'after');
    if (task.andEvery !== undefined) {
      add(task.andEvery, task.name, compiled.tasks.has(task.andEvery) ? 'cascade' : 'andEvery');
    }
    for (const t of task.unless) add(t, task.name, 'unless');
  }
  return { workflow: compiled.name, tasks, triggers: [...triggers], edges };
}

/** Mermaid node ids: the name with anything outside `[A-Za-z0-9_]` replaced, kept unique. */
function idMaker(prefix: string): (name: string) => string {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  return (name) => {
    const known = ids.get(name);
    if (known !== undefined) return known;
    const base = `${prefix}${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    ids.set(name, id);
    used.add(id);
    return id;
  };
}

const MERMAID_ARROW: Record<EdgeKind, string> = {
  after: '-->|after|',
  andEvery: '-.->|andEvery|',
  unless: '--x|unless|',
  cascade: '==>|cascade|',
};

/** Quotes a Mermaid label. */
function mermaidLabel(name: string): string {
  return `"${name.replace(/"/g, '#quot;')}"`;
}

/**
 * Mermaid `flowchart LR` of the graphs; with more than one workflow, one subgraph each.
 *
 * @example
 * toMermaid([graphOf(survey)]); // 'flowchart LR\n  step1(["step1"])\n  ...'
 */
export function toMermaid(graphs: readonly WorkflowGraph[]): string {
  const lines = ['flowchart LR'];
  const several = graphs.length > 1;
  graphs.forEach((g, i) => {
    const indent = several ? '    ' : '  ';
    const id = idMaker(several ? `w${i}_` : '');
    if (several) lines.push(`  subgraph w${i} [${mermaidLabel(g.workflow)}]`);
    for (const t of g.triggers) lines.push(`${indent}${id(t)}([${mermaidLabel(t)}])`);
    for (const t of g.tasks) lines.push(`${indent}${id(t)}[${mermaidLabel(t)}]`);
    for (const e of g.edges)
      lines.push(`${indent}${id(e.from)} ${MERMAID_ARROW[e.kind]} ${id(e.to)}`);
    if (several) lines.push('  end');
  });
  return `${lines.join('\n')}\n`;
}

const DOT_STYLE: Record<EdgeKind, string> = {
  after: 'label="after"',
  andEvery: 'label="andEvery", style=dashed',
  unless: 'label="unless", color=red, arrowhead=tee',
  cascade: 'label="cascade", style=bold',
};

function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * DOT (Graphviz) of the graphs; with more than one workflow, one cluster each.
 *
 * @example
 * toDot([graphOf(survey)]); // 'digraph triggers {\n  rankdir=LR;\n ...'
 */
export function toDot(graphs: readonly WorkflowGraph[]): string {
  const lines = ['digraph triggers {', '  rankdir=LR;'];
  const several = graphs.length > 1;
  graphs.forEach((g, i) => {
    const indent = several ? '    ' : '  ';
    const id = (name: string) => dotString(several ? `${g.workflow}/${name}` : name);
    if (several) {
      lines.push(
        `  subgraph ${dotString(`cluster_${i}`)} {`,
        `    label=${dotString(g.workflow)};`,
      );
    }
    for (const t of g.triggers) {
      lines.push(`${indent}${id(t)} [label=${dotString(t)}, shape=ellipse];`);
    }
    for (const t of g.tasks) lines.push(`${indent}${id(t)} [label=${dotString(t)}, shape=box];`);
    for (const e of g.edges)
      lines.push(`${indent}${id(e.from)} -> ${id(e.to)} [${DOT_STYLE[e.kind]}];`);
    if (several) lines.push('  }');
  });
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
