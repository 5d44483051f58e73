// The time range of a page with history (a host, a group): the last 15 min to 30 days, or a custom span picked
// with two datetime-local inputs (or by zooming a chart). Buttons carry data-range="15m" … "30d".

export const RANGES = { "15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

export class RangePicker {
  /** `onChange(range)` after the reader picked one; `range` is what current() answers. */
  constructor(container, { initial = "1h", choices = Object.keys(RANGES), onChange }) {
    this.name = initial;
    this.custom = null;  // {start, end} while a custom span is shown
    this.onChange = onChange;
    container.classList.add("range");
    container.innerHTML = choices.map((name) => `<button type="button" data-range="${name}">${name}</button>`)
      .join("") + '<span class="custom"><label>from <input type="datetime-local" name="from"></label>' +
      '<label>to <input type="datetime-local" name="to"></label>' +
      '<button type="button" data-range="custom">Show</button></span>';
    this.buttons = [...container.querySelectorAll("button[data-range]")];
    this.from = container.querySelector("input[name=from]");
    this.to = container.querySelector("input[name=to]");
    container.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-range]");
      if (button) this.pick(button.dataset.range);
    });
    this.mark();
  }

  /** {name, start, end, span, live}: `live` for the short ranges that take new samples as they come. */
  current(now = Date.now() / 1000) {
    if (this.custom) return { name: "custom", ...this.custom, span: this.custom.end - this.custom.start, live: false };
    const span = RANGES[this.name];
    return { name: this.name, start: now - span, end: now, span, live: span <= RANGES["1h"] };
  }

  pick(name) {
    if (name === "custom") {
      const start = fromInput(this.from.value);
      const end = fromInput(this.to.value);
      if (start === null || end === null || start >= end) {
        this.from.setCustomValidity(start !== null && end !== null ? "must be before the end" : "");
        this.from.reportValidity();
        return;
      }
      this.from.setCustomValidity("");
      this.showCustom(start, end);
    } else {
      this.name = name;
      this.custom = null;
    }
    this.mark();
    this.onChange(this.current());
  }

  /** A span chosen elsewhere (a chart's zoom); null returns to the named range shown before. */
  showCustom(start, end) {
    this.custom = start === null ? null : { start, end };
    if (this.custom) {
      this.from.value = toInput(start);
      this.to.value = toInput(end);
    }
    this.mark();
  }

  mark() {
    const shown = this.custom ? "custom" : this.name;
    for (const button of this.buttons) button.setAttribute("aria-pressed", String(button.dataset.range === shown));
    if (!this.custom) {
      const { start, end } = this.current();
      this.from.value = toInput(start);
      this.to.value = toInput(end);
    }
  }
}

function fromInput(value) {
  const ms = value ? new Date(value).getTime() : NaN;  // datetime-local is the reader's local time
  return Number.isFinite(ms) ? ms / 1000 : null;
}

function toInput(ts) {
  const date = new Date(ts * 1000);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}
