/**
 * Hand-written SVG charts for the report: grouped bars and lines, optionally on a log scale.
 * Plain SVG 1.1 text, no scripts, readable on GitHub.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */

/** A named, coloured series. */
export interface Series {
  name: string;
  color: string;
}

/** Options of `barChart`. */
export interface BarChartOptions {
  title: string;
  yLabel: string;
  series: readonly Series[];
  /** One group of bars per label, one bar per series (NaN or missing: no bar). */
  groups: ReadonlyArray<{ label: string; values: readonly number[] }>;
  /** A base-10 log scale for the y axis. @default false */
  log?: boolean;
  /** How a value is printed above its bar. */
  format?: (value: number) => string;
  /** A horizontal reference line (a target), on linear scales. */
  reference?: { y: number; label: string };
}

/** Options of `lineChart`. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ReadonlyArray<Series & { points: ReadonlyArray<{ x: number; y: number }> }>;
  /** A base-10 log scale for the x axis. @default false */
  logX?: boolean;
  /** A horizontal reference line (a target). */
  reference?: { y: number; label: string };
  /** The y axis starts at 0 and reaches at least this. */
  minYMax?: number;
}

const WIDTH = 760;
const HEIGHT = 380;
const PAD = { left: 70, right: 20, top: 44, bottom: 70 };
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const fmt = (v: number): string =>
  Number.isInteger(v)
    ? String(v)
    : Math.abs(v) >= 100
      ? v.toFixed(0)
      : Math.abs(v) >= 10
        ? v.toFixed(1)
        : v.toPrecision(2);

/** Tick values for an axis from `lo` to `hi`. */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
    return out;
  }
  const step = 10 ** Math.floor(Math.log10(hi / 5 || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => hi / s <= 6) ?? step * 10;
  // The last tick is the first at or above `hi`, so that every value fits under the top.
  const count = Math.max(1, Math.ceil(hi / nice - 1e-9));
  return Array.from({ length: count + 1 }, (_, i) => i * nice);
}

function frame(title: string, body: string[], legend: readonly Series[]): string {
  const items = legend.map((s, i) => {
    const x = PAD.left + i * 190;
    return `<rect x="${x}" y="${HEIGHT - 22}" width="12" height="12" fill="${s.color}"/><text x="${x + 18}" y="${HEIGHT - 12}" font-size="12" ${FONT}>${escapeXml(s.name)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600" ${FONT}>${escapeXml(title)}</text>`,
    ...body,
    ...items,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * A grouped bar chart.
 *
 * @example
 * const svg = barChart({ title: 'Cost', yLabel: '$', series, groups: [{ label: 'simple', values: [1, 10] }] });
 */
export function barChart(o: BarChartOptions): string {
  const log = o.log ?? false;
  const format = o.format ?? fmt;
  const values = o.groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v) && v > 0);
  const hi = Math.max(values.length > 0 ? Math.max(...values) : 1, o.reference?.y ?? 0);
  const lo = values.length > 0 ? Math.min(...values) : 1;
  const axis = ticks(log ? lo : 0, hi, log);
  const top = axis[axis.length - 1] ?? hi;
  const bottom = log ? (axis[0] ?? lo) : 0;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const plotW = WIDTH - PAD.left - PAD.right;
  const y = (v: number) =>
    PAD.top +
    plotH -
    (log
      ? ((Math.log10(v) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom) || 1)) * plotH
      : ((v - bottom) / (top - bottom || 1)) * plotH);
  const body: string[] = [];
  for (const t of axis) {
    body.push(
      `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${PAD.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" ${FONT}>${escapeXml(format(t))}</text>`,
    );
  }
  body.push(
    `<text x="16" y="${PAD.top + plotH / 2}" transform="rotate(-90 16 ${PAD.top + plotH / 2})" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(o.yLabel)}</text>`,
  );
  const groupW = plotW / Math.max(1, o.groups.length);
  const barW = Math.min(48, (groupW * 0.8) / Math.max(1, o.series.length));
  o.groups.forEach((g, gi) => {
    const gx = PAD.left + gi * groupW + (groupW - barW * o.series.length) / 2;
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v) || v <= 0) return;
      const color = o.series[si]?.color ?? '#888888';
      const x = gx + si * barW;
      const yt = y(Math.max(v, bottom));
      body.push(
        `<rect x="${x.toFixed(1)}" y="${yt.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(PAD.top + plotH - yt).toFixed(1)}" fill="${color}"/>`,
        `<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(yt - 4).toFixed(1)}" text-anchor="middle" font-size="10" ${FONT}>${escapeXml(format(v))}</text>`,
      );
    });
    body.push(
      `<text x="${(PAD.left + gi * groupW + groupW / 2).toFixed(1)}" y="${PAD.top + plotH + 18}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(g.label)}</text>`,
    );
  });
  body.push(
    `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" stroke="#333333"/>`,
  );
  if (o.reference && !log) {
    const yr = y(o.reference.y);
    body.push(
      `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${yr.toFixed(1)}" y2="${yr.toFixed(1)}" stroke="#c0392b" stroke-dasharray="6 4"/>`,
      `<text x="${PAD.left + 4}" y="${(yr - 6).toFixed(1)}" text-anchor="start" font-size="11" fill="#c0392b" ${FONT}>${escapeXml(o.reference.label)}</text>`,
    );
  }
  return frame(o.title, body, o.series);
}

/**
 * A line chart with markers.
 *
 * @example
 * const svg = lineChart({ title: 'Units per event', xLabel: 'length', yLabel: 'units', logX: true, series });
 */
export function lineChart(o: LineChartOptions): string {
  const logX = o.logX ?? false;
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x)).filter(Number.isFinite);
  const ys = o.series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite);
  const xLo = xs.length > 0 ? Math.min(...xs) : 1;
  const xHi = xs.length > 0 ? Math.max(...xs) : 10;
  const yMax = Math.max(o.minYMax ?? 0, ...(ys.length > 0 ? ys : [1]), o.reference?.y ?? 0);
  const yAxis = ticks(0, yMax * 1.1, false);
  const yTop = yAxis[yAxis.length - 1] ?? yMax;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const plotW = WIDTH - PAD.left - PAD.right;
  const x = (v: number) =>
    PAD.left +
    20 +
    (logX
      ? (Math.log10(v) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo) || 1)
      : (v - xLo) / (xHi - xLo || 1)) *
      (plotW - 40);
  const y = (v: number) => PAD.top + plotH - (v / (yTop || 1)) * plotH;
  const body: string[] = [];
  for (const t of yAxis) {
    body.push(
      `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${PAD.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" ${FONT}>${escapeXml(fmt(t))}</text>`,
    );
  }
  for (const v of [...new Set(xs)].sort((a, b) => a - b)) {
    body.push(
      `<text x="${x(v).toFixed(1)}" y="${PAD.top + plotH + 18}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(v.toLocaleString('en-US'))}</text>`,
    );
  }
  body.push(
    `<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH + 38}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(o.xLabel)}</text>`,
    `<text x="16" y="${PAD.top + plotH / 2}" transform="rotate(-90 16 ${PAD.top + plotH / 2})" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(o.yLabel)}</text>`,
    `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" stroke="#333333"/>`,
  );
  if (o.reference) {
    const yr = y(o.reference.y).toFixed(1);
    body.push(
      `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${yr}" y2="${yr}" stroke="#c0392b" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - PAD.right - 4}" y="${Number(yr) - 6}" text-anchor="end" font-size="11" fill="#c0392b" ${FONT}>${escapeXml(o.reference.label)}</text>`,
    );
  }
  for (const s of o.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (pts.length === 0) continue;
    body.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ')}"/>`,
      ...pts.map(
        (p) =>
          `<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="4" fill="${s.color}"><title>${escapeXml(`${s.name}: ${fmt(p.y)} at ${p.x}`)}</title></circle>`,
      ),
    );
  }
  return frame(o.title, body, o.series);
}
