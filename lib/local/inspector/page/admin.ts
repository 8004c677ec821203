/**
 * The inspector's instance administration: which instances need attention (failed, or warnings
 * and errors whose logs are not resolved), the Resolve logs and Set status… controls, and the
 * card of an instance that needs attention only for its logs. The requests go through the
 * public HTTP API, as Replay and Skip do.
 * May import: its siblings and the public types (lib/types.ts); it runs in the browser.
 *
 * @module
 */
import type { InstanceStatus, TaskInstance } from '../../../types.ts';
import type { SetStatusRequest } from './api.ts';
import { actionRunner, clockTime, h } from './elements.ts';
import { statusBadge } from './views.ts';

/** What the administration controls ask of the page when a button is pressed. */
export interface AdminActions {
  resolveLogs(instance: string): Promise<void>;
  setStatus(instance: string, request: SetStatusRequest): Promise<void>;
}

/** The statuses an operator settles an instance to by hand. */
export const SETTABLE_STATUSES: readonly InstanceStatus[] = [
  'finished',
  'skipped',
  'abandoned',
  'failed',
];

/**
 * Whether the instance logged a warning or an error nobody has marked resolved.
 *
 * @example
 * hasUnresolvedLogs({ ...instance, logLevel: 'warn' }); // true
 */
export function hasUnresolvedLogs(i: TaskInstance): boolean {
  return (i.logLevel === 'warn' || i.logLevel === 'error') && i.logsResolved !== true;
}

/**
 * Whether the instance gets a card: it failed, or its warnings or errors are unresolved.
 *
 * @example
 * view.instances.filter(needsAttention);
 */
export function needsAttention(i: TaskInstance): boolean {
  return i.status === 'failed' || hasUnresolvedLogs(i);
}

/**
 * What a card shows of an instance: rebuilt when this changes, kept (with what its forms hold)
 * while it does not.
 *
 * @example
 * cardKey(instance); // 't_a#0 failed logs'
 */
export function cardKey(i: TaskInstance): string {
  return `${i.name} ${i.status}${hasUnresolvedLogs(i) ? ' logs' : ''}`;
}

/**
 * Resolve logs (when the instance's logs are unresolved) and Set status…, which opens a status
 * picker with a cascade box (enabled with `finished` only) and Apply. Buttons stay disabled
 * while a request is out; a refusal shows under them.
 *
 * @example
 * card.append(adminControls(instance, { resolveLogs, setStatus }));
 */
export function adminControls(i: TaskInstance, actions: AdminActions): HTMLElement {
  const note = h('p', { class: 'action-note', role: 'status' });
  const resolve = hasUnresolvedLogs(i)
    ? h('button', { type: 'button', 'data-action': 'resolve-logs' }, 'Resolve logs')
    : undefined;
  const open = h(
    'button',
    { type: 'button', 'data-action': 'set-status', 'aria-expanded': 'false' },
    'Set status…',
  );
  const status = h(
    'select',
    { 'data-action': 'status', 'aria-label': 'new status' },
    ...SETTABLE_STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const cascade = h('input', { type: 'checkbox', 'data-action': 'status-cascade' });
  const apply = h('button', { type: 'button', 'data-action': 'apply-status' }, 'Apply');
  const picker = h(
    'div',
    { class: 'actions status-picker', hidden: true },
    status,
    h('label', { class: 'cascade' }, cascade, 'cascade'),
    apply,
  );
  const buttons = [resolve, open, apply].filter((b): b is HTMLButtonElement => b !== undefined);
  const syncCascade = () => {
    cascade.disabled = status.value !== 'finished';
    if (cascade.disabled) cascade.checked = false;
  };
  syncCascade();
  status.addEventListener('change', syncCascade);
  open.addEventListener('click', () => {
    picker.hidden = !picker.hidden;
    open.setAttribute('aria-expanded', picker.hidden ? 'false' : 'true');
  });
  const busy = actionRunner(buttons, note);
  resolve?.addEventListener(
    'click',
    () => void busy('Resolve logs', () => actions.resolveLogs(i.name)),
  );
  apply.addEventListener('click', () => {
    const request: SetStatusRequest = {
      status: status.value as InstanceStatus,
      cascade: cascade.checked,
    };
    void busy(`Set status ${request.status}`, () => actions.setStatus(i.name, request));
  });
  return h(
    'div',
    { class: 'admin-actions' },
    h('div', { class: 'actions' }, resolve, open),
    picker,
    note,
  );
}

/**
 * The card of an instance that has not failed but logged warnings or errors nobody resolved:
 * its status and log level, with the administration controls.
 *
 * @example
 * list.append(logsCard(instance, { resolveLogs, setStatus }));
 */
export function logsCard(i: TaskInstance, actions: AdminActions): HTMLElement {
  return h(
    'article',
    { class: 'logs-card', 'data-instance': i.name },
    h(
      'header',
      {},
      h('span', { class: 'mono card-name' }, i.name),
      statusBadge(i.status),
      h(
        'span',
        { class: 'muted' },
        `attempt ${i.attempt} · logged at ${i.logLevel ?? '?'} level · updated ${clockTime(i.updatedAt)}`,
      ),
    ),
    adminControls(i, actions),
  );
}
