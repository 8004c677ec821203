/**
 * The inspector's panels other than the graph: the legend, the session summary, the instance
 * table, the failed-instance cards and the timeline (the session's events, and the lifecycle
 * events the local stack heard). Each builds DOM from API data; none keeps state of its own.
 * May import: its siblings and the public types (lib/types.ts); it runs in the browser.
 *
 * @module
 */
import type { InstanceStatus, SessionEvent, SessionView, TaskInstance } from '../../../types.ts';
import type { LifecycleNotice } from './api.ts';
import { actionRunner, clockTime, h, jsonLine, jsonText, svg } from './elements.ts';
import { type EdgeKind, STATUS_ORDER } from './graph.ts';

const STATUS_HINT: Record<InstanceStatus, string> = {
  unstarted: 'waiting for triggers',
  scheduled: 'sent to its runner',
  running: 'handler running',
  finished: 'done; its result cascaded',
  failed: 'handler threw: replay or skip it',
  skipped: 'skipped (by itself or by request)',
  abandoned: 'an unless trigger fired first',
  replayed: 'failed, then replayed as a clone',
};

const EDGE_HINT: Record<EdgeKind, string> = {
  after: 'after',
  andEvery: 'andEvery',
  cascade: 'cascade',
  unless: 'unless',
};

/**
 * A status badge.
 *
 * @example
 * statusBadge('failed'); // <span class="badge status-failed">failed</span>
 */
export function statusBadge(status: InstanceStatus): HTMLSpanElement {
  return h('span', { class: `badge status-${status}`, title: STATUS_HINT[status] }, status);
}

/**
 * The legend: instance statuses, trigger states and edge kinds, drawn with the graph's classes.
 *
 * @example
 * panel.append(legend());
 */
export function legend(): HTMLElement {
  const edge = (kind: EdgeKind) =>
    h(
      'li',
      {},
      svg(
        'svg',
        { class: `edge edge-${kind}`, width: 30, height: 10, viewBox: '0 0 30 10' },
        svg('path', { d: 'M1,5 L27,5', 'marker-end': `url(#arrow-${kind})` }),
      ),
      EDGE_HINT[kind],
    );
  return h(
    'div',
    { class: 'legend' },
    h(
      'ul',
      { class: 'legend-statuses', 'aria-label': 'instance statuses' },
      ...STATUS_ORDER.map((s) =>
        h('li', { title: STATUS_HINT[s] }, h('span', { class: `swatch status-${s}` }), s),
      ),
    ),
    h(
      'ul',
      { class: 'legend-edges', 'aria-label': 'graph elements' },
      h('li', {}, h('span', { class: 'pill fired' }), 'trigger fired'),
      h('li', {}, h('span', { class: 'pill unfired' }), 'not yet'),
      edge('after'),
      edge('andEvery'),
      edge('cascade'),
      edge('unless'),
    ),
  );
}

/**
 * The session's headline: workflow, instance counts by status, fired triggers and what is
 * still unresolved.
 *
 * @example
 * bar.replaceChildren(sessionSummary(view));
 */
export function sessionSummary(view: SessionView): HTMLElement {
  const counts = new Map<InstanceStatus, number>();
  for (const i of view.instances) counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
  const fired = Object.entries(view.fired);
  // A server from before `unresolvedLogs` answers without it.
  const unresolvedLogs = view.unresolvedLogs ?? [];
  return h(
    'div',
    { class: 'summary-grid' },
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-label' }, 'workflow'),
      h('span', { class: 'stat-value mono' }, view.workflow),
    ),
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-label' }, `${view.instances.length} instances`),
      h(
        'span',
        { class: 'stat-value' },
        ...STATUS_ORDER.filter((s) => counts.has(s)).map((s) =>
          h('span', { class: `badge status-${s}` }, `${counts.get(s)} ${s}`),
        ),
      ),
    ),
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-label' }, 'fired'),
      h(
        'span',
        { class: 'stat-value' },
        ...fired.map(([t, f]) => h('span', { class: 'chip' }, t, h('b', {}, `×${f.count}`))),
        fired.length === 0 && h('span', { class: 'muted' }, 'nothing yet'),
      ),
    ),
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-label' }, 'unresolved tasks'),
      h(
        'span',
        { class: 'stat-value', 'data-unresolved': view.unresolvedTasks.join(' ') },
        ...view.unresolvedTasks.map((t) => h('span', { class: 'chip mono' }, t)),
        view.unresolvedTasks.length === 0 && h('span', { class: 'done' }, 'none: all resolved'),
      ),
    ),
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-label' }, 'unresolved logs'),
      h(
        'span',
        { class: 'stat-value', 'data-unresolved-logs': unresolvedLogs.join(' ') },
        ...unresolvedLogs.map((i) => h('span', { class: 'chip mono' }, i)),
        unresolvedLogs.length === 0 && h('span', { class: 'done' }, 'none'),
      ),
    ),
  );
}

function waitingChips(triggers: readonly string[]): HTMLElement {
  return h(
    'span',
    { class: 'waiting' },
    h('span', { class: 'muted' }, 'waiting for'),
    ...triggers.map((t) => h('span', { class: 'chip waiting-for', 'data-trigger': t }, t)),
  );
}

/** What one line can say about an instance beyond its status. */
function instanceNote(i: TaskInstance, clones: readonly string[]): Node | string {
  if (i.status === 'unstarted' && i.waitingFor && i.waitingFor.length > 0) {
    return waitingChips(i.waitingFor);
  }
  if (i.status === 'failed' && i.error) {
    return h('span', { class: 'error-line' }, `${i.error.type}: ${i.error.message}`);
  }
  if (i.status === 'replayed' && clones.length > 0) {
    return h('span', { class: 'muted' }, `replayed as ${clones.join(', ')}`);
  }
  if (i.status === 'skipped' && i.metadata)
    return h('span', { class: 'mono' }, jsonLine(i.metadata));
  if (i.result) return h('span', { class: 'mono' }, `→ ${jsonLine(i.result, 64)}`);
  return '';
}

function detailBlock(title: string, value: unknown): HTMLElement | undefined {
  const text = jsonText(value);
  return text === undefined
    ? undefined
    : h('div', { class: 'detail-block' }, h('h4', {}, title), h('pre', {}, text));
}

/**
 * The instance table: one row per instance (name, status, attempt, last change, what it waits
 * for or produced); a row in `expanded` also shows its kwargs, result, metadata and error.
 *
 * @example
 * panel.replaceChildren(instanceTable(view.instances, expanded, toggle));
 */
export function instanceTable(
  instances: readonly TaskInstance[],
  expanded: ReadonlySet<string>,
  toggle: (instance: string) => void,
): HTMLElement {
  if (instances.length === 0) {
    return h('p', { class: 'empty' }, 'No instances yet: no task has taken a trigger.');
  }
  const clones = new Map<string, string[]>();
  for (const i of instances) {
    if (i.parent !== undefined) clones.set(i.parent, [...(clones.get(i.parent) ?? []), i.name]);
  }
  const rows = instances.flatMap((i) => {
    const open = expanded.has(i.name);
    const row = h(
      'tr',
      {
        class: `instance status-${i.status}${open ? ' open' : ''}`,
        'data-instance': i.name,
        'data-status': i.status,
        tabindex: 0,
        'aria-expanded': open ? 'true' : 'false',
      },
      h(
        'td',
        { class: 'name' },
        h('span', { class: 'caret' }, open ? '▾' : '▸'),
        h('span', { class: 'mono' }, i.name),
        h(
          'span',
          { class: 'sub', title: `updated ${i.updatedAt}` },
          clockTime(i.updatedAt),
          ` · attempt ${i.attempt}`,
          i.parent !== undefined && ` · from ${i.parent}`,
        ),
      ),
      h('td', {}, statusBadge(i.status)),
      h('td', { class: 'note' }, instanceNote(i, clones.get(i.name) ?? [])),
    );
    const activate = () => toggle(i.name);
    row.addEventListener('click', activate);
    row.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        activate();
      }
    });
    if (!open) return [row];
    const blocks = [
      detailBlock('kwargs', i.kwargs),
      detailBlock('result', i.result),
      detailBlock('metadata', i.metadata),
      detailBlock('error', i.error),
    ].filter((b): b is HTMLElement => b !== undefined);
    const detail = h(
      'tr',
      { class: 'instance-detail' },
      h(
        'td',
        { colspan: 3 },
        h(
          'div',
          { class: 'detail-blocks' },
          ...blocks,
          blocks.length === 0 && h('span', { class: 'muted' }, 'no kwargs, result or error'),
          h('span', { class: 'muted stamp' }, `created ${i.createdAt} · updated ${i.updatedAt}`),
        ),
      ),
    );
    return [row, detail];
  });
  return h(
    'table',
    { class: 'instances' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'instance'),
        h('th', {}, 'status'),
        h('th', {}, 'waiting for / result'),
      ),
    ),
    h('tbody', {}, ...rows),
  );
}

/** What a failed-instance card asks of the page when a button is pressed. */
export interface FailedActions {
  replay(instance: string): Promise<void>;
  skip(
    instance: string,
    opts: { cascade: boolean; result?: Record<string, unknown> },
  ): Promise<void>;
}

/**
 * A failed instance's card: its error and stack, with Replay and Skip (optionally cascading a
 * stand-in result). Buttons stay disabled while a request is out; refusals show on the card.
 *
 * @example
 * list.append(failedCard(instance, { replay, skip }));
 */
export function failedCard(i: TaskInstance, actions: FailedActions): HTMLElement {
  const note = h('p', { class: 'action-note', role: 'status' });
  const replay = h(
    'button',
    { type: 'button', class: 'primary', 'data-action': 'replay' },
    'Replay',
  );
  const skip = h('button', { type: 'button', 'data-action': 'skip' }, 'Skip');
  const cascade = h('input', { type: 'checkbox', 'data-action': 'cascade' });
  const result = h('input', {
    type: 'text',
    class: 'mono',
    placeholder: 'stand-in result, JSON object (optional)',
    'aria-label': 'stand-in result',
    'data-action': 'result',
    disabled: true,
  });
  cascade.addEventListener('change', () => {
    result.disabled = !cascade.checked;
  });
  const busy = actionRunner([replay, skip], note);
  replay.addEventListener('click', () => void busy('Replay', () => actions.replay(i.name)));
  skip.addEventListener('click', () => {
    let stand: Record<string, unknown> | undefined;
    if (cascade.checked && result.value.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(result.value);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new Error('the stand-in result must be a JSON object');
        }
        stand = parsed as Record<string, unknown>;
      } catch (err) {
        note.className = 'action-note refused';
        note.textContent = err instanceof Error ? err.message : String(err);
        return;
      }
    }
    void busy('Skip', () =>
      actions.skip(i.name, { cascade: cascade.checked, ...(stand ? { result: stand } : {}) }),
    );
  });
  const error = i.error;
  return h(
    'article',
    { class: 'failed-card', 'data-instance': i.name },
    h(
      'header',
      {},
      h('span', { class: 'mono card-name' }, i.name),
      statusBadge(i.status),
      h('span', { class: 'muted' }, `attempt ${i.attempt} · failed at ${clockTime(i.updatedAt)}`),
    ),
    h(
      'p',
      { class: 'error-message' },
      h('b', {}, error?.type ?? 'Error'),
      ': ',
      error?.message ?? 'no message recorded',
    ),
    error?.stack !== undefined && h('pre', { class: 'stack' }, error.stack),
    h(
      'div',
      { class: 'actions' },
      replay,
      skip,
      h('label', { class: 'cascade' }, cascade, 'cascade'),
      result,
    ),
    note,
  );
}

function eventSubject(e: SessionEvent): Node {
  switch (e.kind) {
    case 'fire':
      return h('span', { class: 'mono subject' }, e.trigger ?? '?');
    case 'clone':
      return h(
        'span',
        { class: 'subject' },
        h('span', { class: 'mono' }, e.task ?? '?'),
        h('span', { class: 'muted' }, ` clone of ${e.instance ?? '?'}`),
      );
    case 'configure':
      return h(
        'span',
        { class: 'subject' },
        h('span', { class: 'muted' }, 'tasks '),
        h('span', { class: 'mono' }, (e.tasks ?? []).join(', ')),
      );
    default:
      return h(
        'span',
        { class: 'subject' },
        h('span', { class: 'mono' }, e.instance ?? '?'),
        e.kind === 'status' && h('span', { class: 'muted' }, ` → ${e.status ?? '?'}`),
        (e.kind === 'skip' || e.kind === 'status') &&
          e.cascade === true &&
          h('span', { class: 'muted' }, ' (cascade)'),
      );
  }
}

/** The fields of a lifecycle event's detail as text, for the subject column. */
function detailText(n: LifecycleNotice, key: string): string {
  const value = n.detail[key];
  return Array.isArray(value) ? value.map(String).join(', ') : String(value ?? '?');
}

function lifecycleSubject(n: LifecycleNotice): Node {
  const name = (key: string) => h('span', { class: 'mono' }, detailText(n, key));
  const aside = (text: string) => h('span', { class: 'muted' }, text);
  switch (n.detailType) {
    case 'Trigger Fired': {
      const scheduled = detailText(n, 'scheduled');
      return h(
        'span',
        { class: 'subject' },
        name('trigger'),
        aside(` scheduled ${scheduled === '' ? 'nothing' : scheduled}`),
      );
    }
    case 'Instance Replayed':
      return h(
        'span',
        { class: 'subject' },
        name('instance'),
        aside(` replays ${detailText(n, 'parent')}`),
      );
    case 'Instance Skipped':
      return h(
        'span',
        { class: 'subject' },
        name('instance'),
        n.detail.cascade === true && aside(' (cascade)'),
      );
    case 'Instance Failed': {
      const error = n.detail.error as { type?: unknown; message?: unknown } | undefined;
      return h(
        'span',
        { class: 'subject' },
        name('instance'),
        aside(` ${String(error?.type ?? 'Error')}: ${String(error?.message ?? '')}`),
      );
    }
    default:
      return h('span', { class: 'subject' }, name('workflow'));
  }
}

function eventRow(e: SessionEvent, start: number): HTMLElement {
  const fired = Date.parse(e.firedAt);
  const kwargs = e.kwargs ?? e.result ?? e.metadata;
  return h(
    'tr',
    { class: `event kind-${e.kind}`, 'data-seq': e.seq, 'data-kind': e.kind },
    h('td', { class: 'num muted' }, e.seq),
    h('td', { class: 'mono time', title: e.firedAt }, clockTime(e.firedAt)),
    h(
      'td',
      { class: 'num mono muted' },
      Number.isNaN(start) ? '' : ((fired - start) / 1000).toFixed(2),
    ),
    h('td', {}, h('span', { class: `kind kind-${e.kind}` }, e.kind)),
    h('td', { class: 'muted' }, e.source),
    h('td', {}, eventSubject(e)),
    h(
      'td',
      { class: 'mono kwargs', title: jsonText(kwargs) ?? '' },
      jsonText(kwargs) === undefined ? '' : jsonLine(kwargs, 72),
    ),
    h(
      'td',
      { class: 'applied' },
      e.applied ? h('span', { class: 'ok' }, '✓') : h('span', { class: 'pending' }, 'pending'),
    ),
  );
}

/** A lifecycle event's row: no position, the time it was heard, what it says. */
function lifecycleRow(n: LifecycleNotice, start: number): HTMLElement {
  const at = Date.parse(n.recordedAt);
  const { id: _id, sessionId: _session, ...payload } = n.detail;
  return h(
    'tr',
    { class: 'lifecycle', 'data-detail-type': n.detailType, 'data-id': n.detail.id },
    h('td', { class: 'num muted' }, ''),
    h('td', { class: 'mono time', title: n.recordedAt }, clockTime(n.recordedAt)),
    h(
      'td',
      { class: 'num mono muted' },
      Number.isNaN(start) || Number.isNaN(at) ? '' : ((at - start) / 1000).toFixed(2),
    ),
    h('td', {}, h('span', { class: 'kind kind-lifecycle' }, n.detailType)),
    h('td', { class: 'muted' }, 'lifecycle'),
    h('td', {}, lifecycleSubject(n)),
    h('td', { class: 'mono kwargs', title: jsonText(payload) ?? '' }, jsonLine(payload, 72)),
    h('td', { class: 'applied' }, ''),
  );
}

/**
 * The timeline, in the order the session accepted its events: when each was fired, whether it
 * is applied, what kind it is, who sent it and its kwargs. The lifecycle events the local stack
 * heard sit between them by the time they were heard (after the event they stem from).
 *
 * @example
 * panel.replaceChildren(timelineTable(timeline.events, lifecycle));
 */
export function timelineTable(
  events: readonly SessionEvent[],
  lifecycle: readonly LifecycleNotice[] = [],
): HTMLElement {
  if (events.length === 0 && lifecycle.length === 0) {
    return h('p', { class: 'empty' }, 'No events yet.');
  }
  const start = Date.parse(events[0]?.firedAt ?? lifecycle[0]?.recordedAt ?? '');
  const heard = [...lifecycle];
  const rows: HTMLElement[] = [];
  for (const e of events) {
    const fired = Date.parse(e.firedAt);
    while (heard.length > 0 && Date.parse((heard[0] as LifecycleNotice).recordedAt) < fired) {
      rows.push(lifecycleRow(heard.shift() as LifecycleNotice, start));
    }
    rows.push(eventRow(e, start));
  }
  rows.push(...heard.map((n) => lifecycleRow(n, start)));
  return h(
    'table',
    { class: 'timeline' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { class: 'num' }, '#'),
        h('th', {}, 'at'),
        h('th', { class: 'num' }, '+s'),
        h('th', {}, 'kind'),
        h('th', {}, 'source'),
        h('th', {}, 'trigger / instance'),
        h('th', {}, 'kwargs / detail'),
        h('th', {}, 'applied'),
      ),
    ),
    h('tbody', {}, ...rows),
  );
}
