/**
 * Element builders for the inspector. Text always goes in as text nodes, never as markup, so
 * whatever a session holds (trigger names, kwargs, error stacks) is shown, not interpreted.
 * May import: its siblings and the public types (lib/types.ts); it runs in the browser.
 *
 * @module
 */

/** A child: a node, text, or nothing (skipped). */
export type Child = Node | string | number | false | null | undefined;

/** Attributes; `false` / `undefined` leave the attribute out, `true` sets it empty. */
export type Attributes = Record<string, string | number | boolean | undefined>;

function fill(el: Element, attrs: Attributes, children: readonly Child[]): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/**
 * An HTML element with attributes and children.
 *
 * @example
 * h('span', { class: 'badge' }, 'finished');
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  fill(el, attrs, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * An SVG element with attributes and children.
 *
 * @example
 * svg('rect', { width: 10, height: 10, rx: 2 });
 */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  fill(el, attrs, children);
  return el;
}

/**
 * Pretty JSON for display; `undefined` when there is nothing to show.
 *
 * @example
 * jsonText({ page: 1 }); // '{\n  "page": 1\n}'
 */
export function jsonText(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) {
    return undefined;
  }
  return JSON.stringify(value, null, 2);
}

/**
 * One-line JSON, cut to `max` characters.
 *
 * @example
 * jsonLine({ page: 1, answers: [3, 5] }, 20); // '{"page":1,"answers…'
 */
export function jsonLine(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A clock time with milliseconds, local time zone: `14:03:07.250`.
 *
 * @example
 * clockTime('2026-01-01T14:03:07.250Z');
 */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/**
 * Runs a card's request: its buttons disabled and `note` saying so while it is out, a note
 * that the page follows it once accepted, or the refusal (buttons enabled again) when refused.
 *
 * @example
 * const busy = actionRunner([replay, skip], note);
 * replay.addEventListener('click', () => void busy('Replay', () => actions.replay(i.name)));
 */
export function actionRunner(
  buttons: readonly HTMLButtonElement[],
  note: HTMLElement,
): (label: string, run: () => Promise<void>) => Promise<void> {
  return async (label, run) => {
    for (const b of buttons) b.disabled = true;
    note.className = 'action-note';
    note.textContent = `${label}…`;
    try {
      await run();
      note.textContent = `${label} requested; the page follows it.`;
    } catch (err) {
      note.className = 'action-note refused';
      note.textContent = err instanceof Error ? err.message : String(err);
      for (const b of buttons) b.disabled = false;
    }
  };
}
