// How values read for people on the console. The unit names are fleetmon.protocol.units': the catalogue's units
// (a series' `unit` in api/v1/hosts/{host}/series) and the layout's panel units (api/v1/dashboard); any other
// name, "number" and "" included, reads as a plain number. The overview keeps the dashboard's look: whole
// percents and degrees, one decimal under ten.

const SCALES = {
  // Sizes in powers of 1024 as Grafana's "bytes" prints them; rates, frequencies and counts in powers of 1000.
  bytes: [1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], " "],
  bytes_per_second: [1000, ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"], " "],
  hertz: [1000, ["Hz", "kHz", "MHz", "GHz", "THz"], " "],
  count: [1000, ["", "k", "M", "G", "T"], ""],  // 12k, 1.5M
};
const DURATIONS = [["d", 86400], ["h", 3600], ["min", 60]];

/** `value` in `unit`; `digits` fixes the decimals (chart axes ask for as many as their ticks need). */
export function format(unit, value, digits) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  switch (unit) {
    case "ratio": return `${fixed(value * 100, digits ?? 0)}%`;
    case "celsius": return `${fixed(value, digits ?? 0)} °C`;
    case "watts": return `${fixed(value, digits ?? (Math.abs(value) < 10 ? 1 : 0))} W`;
    case "bytes": return scaled(value, SCALES.bytes, digits);
    case "bytes_per_second": return scaled(value, SCALES.bytes_per_second, digits);
    case "hertz": return scaled(value, SCALES.hertz, digits);
    case "count": return scaled(value, SCALES.count, digits);
    case "seconds": return duration(value, digits);
    case "per_second": return `${plain(value, digits)}/s`;
    default: return plain(value, digits);
  }
}

/** The unit a counter's per-second rate is in (a counter has the unit of what it counts). */
export function rateUnit(unit) {
  return { bytes: "bytes_per_second", seconds: "ratio" }[unit] ?? "per_second";
}

function fixed(value, digits) {
  // -0 reads as 0: a rounded tiny negative is no news.
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

function scaled(value, [base, units, separator], digits) {
  let index = 0;
  while (Math.abs(value) >= base && index < units.length - 1) {
    value /= base;
    index += 1;
  }
  const places = digits ?? (index && Math.abs(value) < 10 ? 1 : 0);
  const number = !index && digits === undefined && !Number.isInteger(value) ? plain(value) : fixed(value, places);
  return `${number}${separator}${units[index]}`.trimEnd();
}

function duration(seconds, digits) {
  for (const [unit, size] of DURATIONS) {
    if (Math.abs(seconds) >= 2 * size) return `${fixed(seconds / size, digits ?? 1)} ${unit}`;
  }
  if (seconds !== 0 && Math.abs(seconds) < 1) return `${fixed(seconds * 1000, digits ?? 0)} ms`;
  return `${fixed(seconds, digits ?? (Number.isInteger(seconds) ? 0 : 1))} s`;
}

function plain(value, digits) {
  if (digits !== undefined) return fixed(value, digits);
  if (Math.abs(value) >= 1e4) return scaled(value, SCALES.count, 1);
  if (Number.isInteger(value)) return String(value);
  return fixed(value, Math.abs(value) < 10 ? 2 : 1);
}

/** How long ago a Unix time was, in one short figure (12s, 5m, 3h, 2d). */
export function age(since, now = Date.now() / 1000) {
  const seconds = Math.max(0, now - since);
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

// One formatter for every time shown: a table of thousands of hosts asks thousands of times.
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A Unix time in the reader's locale and zone. */
export function dateTime(ts) {
  return DATE_TIME.format(new Date(ts * 1000));
}
