// A small inline SVG of a trend, as markup: the overview draws one per panel per section from the hub's
// `trends` ([[ts, mean, max], ...] a minute each), in the same innerHTML as its table.

/**
 * `points` [[ts, mean, max], ...]; `top` the value at the top edge (a panel's bar maximum, 1 for a ratio), else
 * the highest max drawn. A gap (null) breaks the line.
 */
export function sparkline(points, { width = 64, height = 18, top = null } = {}) {
  const drawn = (points || []).filter((p) => Array.isArray(p) && Number.isFinite(p[0]));
  if (drawn.length < 2) return "";
  const first = drawn[0][0];
  const span = drawn[drawn.length - 1][0] - first || 1;
  const highest = Math.max(...drawn.map((p) => (Number.isFinite(p[2]) ? p[2] : p[1])).filter(Number.isFinite));
  const ceiling = top || (highest > 0 ? highest * 1.1 : 1);
  const x = (ts) => (((ts - first) / span) * width).toFixed(1);
  const y = (v) => (height - Math.min(1, Math.max(0, v / ceiling)) * (height - 2) - 1).toFixed(1);
  const path = (index) => {
    let d = "";
    let pen = "M";
    for (const point of drawn) {
      const value = point[index];
      if (!Number.isFinite(value)) {
        pen = "M";
        continue;
      }
      d += `${pen}${x(point[0])} ${y(value)}`;
      pen = "L";
    }
    return d;
  };
  return `<svg class="spark" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" aria-hidden="true">` +
    `<path class="max" d="${path(2)}"/><path class="mean" d="${path(1)}"/></svg>`;
}

/** The last mean and the highest max of a trend, for words beside the drawing. */
export function trendFigures(points) {
  const drawn = (points || []).filter((p) => Array.isArray(p));
  const means = drawn.map((p) => p[1]).filter(Number.isFinite);
  const maxes = drawn.map((p) => p[2]).filter(Number.isFinite);
  return { last: means.length ? means[means.length - 1] : null, max: maxes.length ? Math.max(...maxes) : null };
}
