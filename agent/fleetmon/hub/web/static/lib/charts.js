// Time-series charts on uPlot (vendor/uPlot.esm.js, which `make console` copies from npm). A ChartGroup is one
// page's charts: one time window, cursors in step (uPlot's sync key), a drag on any chart zooms them all, and
// each chart resizes with its container. A chart draws several series, its thresholds as dashed lines (warning
// amber, critical red), and for rollup tiers each series' average with its min–max band beneath it.
import { format } from "./format.js";

export const CHARTS_UNAVAILABLE = "charts unavailable: the hub was built without its chart library (make console)";
const PLOT_HEIGHT = 170;
const PALETTE = ["#3f7fd9", "#14a3a3", "#8a63d2", "#4f9a3a", "#c2549d", "#2aa1d8", "#9c6b3c", "#6f7a8f"];
// Units whose numbers the axis writes with as many decimals as its ticks need (the others scale by prefixes).
const DECIMAL_UNITS = new Set(["ratio", "celsius", "watts", "per_second", "", "number"]);
const MIN_DRAG_PX = 5;
let library = null;
let groups = 0;

/** uPlot, or an Error saying in words why there are no charts. */
export function loadChartLibrary() {
  library ??= import("../vendor/uPlot.esm.js").then((module) => {
    const sheet = document.createElement("link");
    sheet.rel = "stylesheet";
    sheet.href = new URL("../vendor/uPlot.min.css", import.meta.url).href;
    // Before the console's own sheet: its rules for the legend and the selection win.
    document.head.insertBefore(sheet, document.head.querySelector("link[rel=stylesheet]"));
    return module.default;
  }, () => {
    throw new Error(CHARTS_UNAVAILABLE);
  });
  return library;
}

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class ChartGroup {
  /**
   * `onZoom(start, end)`: the reader dragged over a time span, or double-clicked (null, null) to go back;
   * `window` {start, end} in Unix seconds.
   */
  constructor(uPlot, { window, onZoom }) {
    this.uPlot = uPlot;
    this.window = window;
    this.onZoom = onZoom;
    this.key = `fleetmon-charts-${++groups}`;
    this.charts = new Set();
    this.zooming = false;
  }

  /** A chart in `container` for values in `unit` with `thresholds` [{severity, value}]. */
  chart(container, { unit, thresholds = [] }) {
    const chart = new TimeChart(this, container, unit, thresholds);
    this.charts.add(chart);
    return chart;
  }

  setWindow(window) {
    this.window = window;
    for (const chart of this.charts) chart.showWindow();
  }

  zoomed(start, end) {
    // uPlot repeats a drag's selection on every chart of the sync key, in the same task: one zoom, not one each.
    if (this.zooming) return;
    this.zooming = true;
    queueMicrotask(() => { this.zooming = false; });
    this.setWindow({ start, end });
    if (this.onZoom) this.onZoom(start, end);
  }

  /** A double click: back to the page's own range (the page sets the window). */
  unzoomed() {
    if (this.onZoom) this.onZoom(null, null);
  }

  dispose() {
    for (const chart of this.charts) chart.destroy();
    this.charts.clear();
  }
}

class TimeChart {
  constructor(group, container, unit, thresholds) {
    this.group = group;
    this.container = container;
    this.unit = unit;
    this.thresholds = dedupeThresholds(thresholds);
    this.plot = null;
    this.series = [];  // [{key, label}]
    this.data = [[]];  // uPlot's columns: times, then one column of values per series
    this.bands = [];  // per series: null, or [mins, maxes] beside its averages
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(container);
  }

  /**
   * Draws `series` [{key, label, points}] anew: points [[ts, value], ...] or, from a rollup tier,
   * [[ts, min, avg, max], ...].
   */
  setSeries(series) {
    this.series = series.map(({ key, label }) => ({ key, label }));
    const { columns, bands } = alignColumns(series);
    this.data = columns;
    this.bands = bands;
    this.build();
  }

  /** New readings `values` {series key: value} at `ts`; what falls out of the window on the left goes. */
  append(ts, values) {
    if (!this.plot || !this.series.some((s) => values[s.key] !== undefined)) return false;
    const times = this.data[0];
    if (times.length && ts <= times[times.length - 1]) return false;
    const keep = times.findIndex((t) => t >= this.group.window.start);
    const from = keep < 0 ? times.length : keep;
    this.data = this.data.map((column, i) => [...column.slice(from),
                                              i === 0 ? ts : values[this.series[i - 1].key] ?? null]);
    this.bands = this.bands.map((band) => band && band.map((column) => [...column.slice(from), null]));
    this.plot.setData(this.data);
    return true;
  }

  build() {
    if (this.plot) this.plot.destroy();
    const { uPlot, key } = this.group;
    const unit = this.unit;
    const muted = cssColour("--muted");
    const line = cssColour("--line");
    const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    const width = Math.max(200, this.container.clientWidth);
    const options = {
      width,
      height: PLOT_HEIGHT,
      cursor: { sync: { key }, drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true, range: () => [this.group.window.start, this.group.window.end] },
                y: { range: (u, low, high) => this.yRange(low, high) } },
      axes: [axis, { ...axis, size: axisWidth, values: (u, splits) => tickLabels(unit, splits) }],
      series: [{}, ...this.series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        points: { show: false },
        value: (u, value, seriesIndex, index) => this.legendValue(seriesIndex, value, index),
      }))],
      legend: { live: true },
      hooks: {
        drawAxes: [(u) => this.drawBands(u)],
        draw: [(u) => this.drawThresholds(u)],
        setSelect: [(u) => this.selected(u)],
      },
    };
    this.plot = new uPlot(options, this.data, this.container);
    // A double click returns to the page's range rather than to the data's own extent.
    this.plot.over.addEventListener("dblclick", () => this.group.unzoomed());
  }

  legendValue(seriesIndex, value, index) {
    const text = format(this.unit, value);
    const band = this.bands[seriesIndex - 1];
    if (!band || index === null || index === undefined || value === null) return text;
    const [mins, maxes] = band;
    return `${text} (${format(this.unit, mins[index])}–${format(this.unit, maxes[index])})`;
  }

  yRange(low, high) {
    let top = Number.isFinite(high) ? high : 0;
    let bottom = Number.isFinite(low) ? low : 0;
    for (const band of this.bands) {
      if (!band) continue;
      for (const value of band[1]) if (value !== null && value > top) top = value;
      for (const value of band[0]) if (value !== null && value < bottom) bottom = value;
    }
    // A threshold up to half again above the data is drawn: it says how close the data came to it.
    for (const { value } of this.thresholds) if (value > top && value <= Math.max(top, 0) * 1.5) top = value;
    if (this.unit === "ratio") top = Math.max(top, 1);
    bottom = Math.min(bottom, 0);
    if (top <= bottom) top = bottom + 1;
    return [bottom, top + (top - bottom) * 0.05];
  }

  drawBands(u) {
    const { ctx } = u;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    const times = this.data[0];
    this.bands.forEach((band, i) => {
      if (!band || !u.series[i + 1].show) return;
      const [mins, maxes] = band;
      ctx.fillStyle = `${PALETTE[i % PALETTE.length]}33`;
      let run = [];
      const fill = () => {
        if (run.length > 1) {
          ctx.beginPath();
          run.forEach((j, n) => ctx[n ? "lineTo" : "moveTo"](u.valToPos(times[j], "x", true),
                                                              u.valToPos(maxes[j], "y", true)));
          for (const j of [...run].reverse()) ctx.lineTo(u.valToPos(times[j], "x", true), u.valToPos(mins[j], "y", true));
          ctx.closePath();
          ctx.fill();
        }
        run = [];
      };
      for (let j = 0; j < times.length; j++) {
        if (mins[j] === null || maxes[j] === null) fill();
        else run.push(j);
      }
      fill();
    });
    ctx.restore();
  }

  drawThresholds(u) {
    const { ctx, bbox } = u;
    const ratio = devicePixelRatio || 1;
    ctx.save();
    ctx.lineWidth = 1.5 * ratio;
    ctx.setLineDash([6 * ratio, 4 * ratio]);
    ctx.font = `${11 * ratio}px system-ui, sans-serif`;
    ctx.textAlign = "right";
    for (const { severity, value } of this.thresholds) {
      // Words above the critical line and below the warning one: two levels close together stay readable.
      ctx.textBaseline = severity === "critical" ? "bottom" : "top";
      const y = u.valToPos(value, "y", true);
      if (!(y >= bbox.top && y <= bbox.top + bbox.height)) continue;
      const colour = cssColour(severity === "critical" ? "--crit" : "--warn");
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
      const offset = (severity === "critical" ? -2 : 2) * ratio;
      ctx.fillText(`${severity} ${format(this.unit, value)}`, bbox.left + bbox.width - 4 * ratio, y + offset);
    }
    ctx.restore();
  }

  selected(u) {
    const { left, width } = u.select;
    if (width < MIN_DRAG_PX) return;
    const start = u.posToVal(left, "x");
    const end = u.posToVal(left + width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    this.group.zoomed(start, end);
  }

  showWindow() {
    if (this.plot) this.plot.setScale("x", { min: this.group.window.start, max: this.group.window.end });
  }

  resize() {
    const width = this.container.clientWidth;
    if (this.plot && width && Math.abs(width - this.plot.width) > 1) this.plot.setSize({ width, height: PLOT_HEIGHT });
  }

  destroy() {
    this.resizer.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.group.charts.delete(this);
  }
}

/**
 * uPlot's columns from series with their own times: the union of the times, a null where a series has no
 * reading, and a null after a gap longer than three usual steps so the line breaks where the host was silent.
 */
export function alignColumns(series) {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const steps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  const usual = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
  const withGaps = [];
  times.forEach((t, i) => {
    if (i && usual && t - times[i - 1] > 3 * usual) withGaps.push(times[i - 1] + usual);
    withGaps.push(t);
  });
  const index = new Map(withGaps.map((t, i) => [t, i]));
  const columns = [withGaps];
  const bands = [];
  for (const { points } of series) {
    const values = new Array(withGaps.length).fill(null);
    const rollup = points.some((p) => p.length === 4);
    const mins = rollup ? new Array(withGaps.length).fill(null) : null;
    const maxes = rollup ? new Array(withGaps.length).fill(null) : null;
    for (const point of points) {
      const at = index.get(point[0]);
      if (point.length === 4) {
        [mins[at], values[at], maxes[at]] = [point[1], point[2], point[3]];
      } else {
        values[at] = point[1];
      }
    }
    columns.push(values);
    bands.push(rollup ? [mins, maxes] : null);
  }
  return { columns, bands };
}

function dedupeThresholds(thresholds) {
  const seen = new Map();
  for (const { severity, value } of thresholds) {
    if (Number.isFinite(value)) seen.set(`${severity}:${value}`, { severity, value });
  }
  return [...seen.values()];
}

function tickLabels(unit, splits) {
  if (!DECIMAL_UNITS.has(unit) || splits.length < 2) return splits.map((v) => format(unit, v));
  const step = Math.abs(splits[1] - splits[0]) * (unit === "ratio" ? 100 : 1);
  const digits = step > 0 ? Math.min(3, Math.max(0, Math.ceil(-Math.log10(step)))) : 0;
  return splits.map((v) => format(unit, v, digits));
}

function axisWidth(u, values, axisIndex, cycle) {
  const axis = u.axes[axisIndex];
  if (cycle > 1 || !values) return axis._size || 50;
  u.ctx.font = axis.font[0];
  const widest = Math.max(0, ...values.map((text) => u.ctx.measureText(text).width));
  return Math.ceil(widest / (devicePixelRatio || 1)) + 16;
}
