// A group's hosts side by side: a row per host, a column per time bucket, each cell coloured by its value, drawn
// on one canvas (a large group is tens of thousands of cells: no DOM node per cell). The host names beside it are
// links (data-host); hovering a cell tells its host, time and value in words.
import { dateTime, format } from "./format.js";
import { escapeHtml } from "./html.js";

// A sequential ramp that stays readable for colour-blind readers and in greyscale (viridis' stops).
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const HEIGHT_BUDGET_PX = 520;
const MIN_ROW_PX = 4;
const MAX_ROW_PX = 18;
const LABELLED_ROW_PX = 11;  // below this a name would not fit its row: the names are there, unwritten

export function rampColour(fraction) {
  const at = Math.min(1, Math.max(0, fraction)) * (RAMP.length - 1);
  const low = Math.floor(at);
  const high = Math.min(RAMP.length - 1, low + 1);
  const mix = at - low;
  const channel = (i) => Math.round(RAMP[low][i] + (RAMP[high][i] - RAMP[low][i]) * mix);
  return `rgb(${channel(0)} ${channel(1)} ${channel(2)})`;
}

/** The value range the colours span: a ratio 0–100 %, anything else from 0 (or its lowest) to its highest. */
export function valueScale(unit, hosts) {
  if (unit === "ratio") return [0, 1];
  let low = Infinity;
  let high = -Infinity;
  for (const { values } of hosts) {
    for (const value of values) {
      if (value === null || value === undefined) continue;
      if (value < low) low = value;
      if (value > high) high = value;
    }
  }
  if (!Number.isFinite(low)) return [0, 1];
  low = Math.min(0, low);
  return [low, high > low ? high : low + 1];
}

export class Heatmap {
  /** `onPick(host)`: the reader clicked a host's row. */
  constructor(container, { onPick }) {
    this.container = container;
    this.onPick = onPick;
    this.data = null;
    this.canvas = null;  // made with the first data: a map and its names appear together
  }

  build() {
    const container = this.container;
    container.classList.add("heatmap");
    container.innerHTML = '<div class="labels"></div><canvas role="img"></canvas><div class="axis"></div>' +
      '<div class="heatmap-tip" hidden></div>';
    this.labels = container.querySelector(".labels");
    this.canvas = container.querySelector("canvas");
    this.axis = container.querySelector(".axis");
    this.tip = container.querySelector(".heatmap-tip");
    this.canvas.addEventListener("mousemove", (event) => this.hover(event));
    this.canvas.addEventListener("mouseleave", () => { this.tip.hidden = true; });
    this.canvas.addEventListener("click", (event) => {
      const cell = this.cellAt(event);
      if (cell) this.onPick(cell.host.host);
    });
    this.resizer = new ResizeObserver(() => this.paint());
    this.resizer.observe(container);
  }

  /** `data` as api/v1/groups/{group}/heatmap answers it: {unit, buckets: [ts], hosts: [{host, values}]}. */
  draw(data) {
    if (!this.canvas) this.build();
    this.data = data;
    const rows = data.hosts.length;
    this.rowHeight = Math.max(MIN_ROW_PX, Math.min(MAX_ROW_PX, Math.floor(HEIGHT_BUDGET_PX / Math.max(1, rows))));
    this.scale = valueScale(data.unit, data.hosts);
    const style = `height:${this.rowHeight}px;line-height:${this.rowHeight}px;font-size:${
      Math.min(12, this.rowHeight - 2)}px`;
    const written = this.rowHeight >= LABELLED_ROW_PX;
    this.labels.innerHTML = data.hosts.map(({ host }) => `<a href="#/host/${encodeURIComponent(host)}" data-host="${
      escapeHtml(host)}" style="${style}"${written ? "" : ` title="${escapeHtml(host)}" aria-label="${escapeHtml(host)}"`}>${
      written ? escapeHtml(host) : ""}</a>`).join("");
    const { buckets } = data;
    this.axis.innerHTML = buckets.length ? `<span>${escapeHtml(dateTime(buckets[0]))}</span><span>${
      escapeHtml(dateTime(buckets[buckets.length - 1]))}</span>` : "";
    this.canvas.setAttribute("aria-label", `${data.hosts.length} hosts over ${buckets.length} time buckets`);
    this.paint();
  }

  paint() {
    if (!this.data) return;
    const { hosts, buckets } = this.data;
    const ratio = devicePixelRatio || 1;
    const width = Math.max(100, this.canvas.clientWidth);
    const height = Math.max(1, hosts.length * this.rowHeight);
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    const ctx = this.canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    const empty = getComputedStyle(document.documentElement).getPropertyValue("--nodata").trim() || "#ddd";
    const cellWidth = width / Math.max(1, buckets.length);
    const [low, high] = this.scale;
    hosts.forEach(({ values }, row) => {
      const y = row * this.rowHeight;
      values.forEach((value, column) => {
        ctx.fillStyle = value === null || value === undefined ? empty : rampColour((value - low) / (high - low));
        // Whole pixels with a hair of overlap: no seams between cells.
        ctx.fillRect(Math.floor(column * cellWidth), y, Math.ceil(cellWidth) + 0.5, this.rowHeight - (this.rowHeight > 6 ? 1 : 0));
      });
    });
  }

  cellAt(event) {
    if (!this.data || !this.data.hosts.length) return null;
    const box = this.canvas.getBoundingClientRect();
    const column = Math.floor(((event.clientX - box.left) / box.width) * this.data.buckets.length);
    const row = Math.floor((event.clientY - box.top) / this.rowHeight);
    const host = this.data.hosts[row];
    if (!host || column < 0 || column >= this.data.buckets.length) return null;
    return { host, column, value: host.values[column], x: event.clientX - box.left, y: event.clientY - box.top };
  }

  hover(event) {
    const cell = this.cellAt(event);
    if (!cell) {
      this.tip.hidden = true;
      return;
    }
    this.tip.hidden = false;
    const value = cell.value === null || cell.value === undefined ? "no sample" : format(this.data.unit, cell.value);
    this.tip.textContent = `${cell.host.host} · ${dateTime(this.data.buckets[cell.column])} · ${value}`;
    const left = this.canvas.offsetLeft + cell.x + 12;
    this.tip.style.left = `${Math.min(left, this.container.clientWidth - this.tip.offsetWidth)}px`;
    this.tip.style.top = `${this.canvas.offsetTop + cell.y + 12}px`;
  }

  /** The colour scale in words and a gradient, for beside the map. */
  legendMarkup() {
    if (!this.data) return "";
    const [low, high] = this.scale;
    const stops = RAMP.map((_, i) => rampColour(i / (RAMP.length - 1))).join(", ");
    return `<span>${escapeHtml(format(this.data.unit, low))}</span><span class="scale" style="background:` +
      `linear-gradient(to right, ${stops})"></span><span>${escapeHtml(format(this.data.unit, high))}</span>` +
      '<span class="muted">· grey: no sample</span>';
  }

  dispose() {
    if (this.resizer) this.resizer.disconnect();
  }
}
