// A long table kept by row key. Parsing, dropping, moving and laying out hundreds of thousands of nodes is what
// makes a large table slow, not building strings; so a redraw parses only the rows whose markup changed (all of
// them in one go), moves as few rows as keep the new order (those outside the longest run already in order), and
// the rows live in chunks, each its own table in a box the browser lays out alone and skips while it is off screen
// (content-visibility): a change in one row lays out its chunk, not the thousands of rows around it.

const CHUNK_ROWS = 100;

/** Rows as chunks under one header, their columns aligned by one `<colgroup>` in all of them. */
export class RowChunks {
  constructor(container, { columns, minWidth }) {
    this.container = container;
    this.columns = columns;
    this.minWidth = minWidth;
    this.chunks = [];  // the chunks' <tbody> elements
    this.kept = new Map();  // key -> {element, html}: every row drawn
    this.message = null;  // the row of words say() put in place of the rows
  }

  /** The rows [{key, html}], in this order. */
  show(rows) {
    if (this.message) this.message.remove();
    this.message = null;
    const fresh = rows.filter(({ key, html }) => !this.kept.has(key) || this.kept.get(key).html !== html);
    const wanted = new Set(rows.map((row) => row.key));
    for (const [key, { element }] of this.kept) {
      if (!wanted.has(key)) {
        element.remove();
        this.kept.delete(key);
      }
    }
    if (fresh.length) {
      const template = document.createElement("template");
      template.innerHTML = fresh.map((row) => row.html).join("");
      [...template.content.children].forEach((element, i) => {
        const { key, html } = fresh[i];
        const before = this.kept.get(key);
        // A changed row takes its old self's place: the rows around it stay where they are.
        if (before) before.element.replaceWith(element);
        this.kept.set(key, { element, html });
      });
    }
    const count = Math.max(1, Math.ceil(rows.length / CHUNK_ROWS));
    while (this.chunks.length < count) this.add();
    while (this.chunks.length > count) this.chunks.pop().closest(".row-chunk").remove();
    this.chunks.forEach((body, k) => {
      const elements = rows.slice(k * CHUNK_ROWS, (k + 1) * CHUNK_ROWS).map(({ key }) => this.kept.get(key).element);
      order(body, elements);
    });
  }

  /** One row of words instead of the rows (nothing to show). */
  say(html) {
    this.show([]);
    this.chunks[0].innerHTML = html;
    this.message = this.chunks[0].firstElementChild;
  }

  add() {
    const box = document.createElement("div");
    box.className = "row-chunk";
    box.innerHTML = `<table class="fixed" style="min-width:${this.minWidth}px">${this.columns}<tbody></tbody></table>`;
    this.container.appendChild(box);
    this.chunks.push(box.querySelector("tbody"));
  }
}

/**
 * Puts `elements` into `body` in this order, moving those outside the longest run already in order (an element
 * still in another chunk is taken from there). What else `body` holds belongs to a later chunk, which takes it.
 */
function order(body, elements) {
  const position = new Map([...body.children].map((element, i) => [element, i]));
  const staying = longestIncreasingRun(elements.map((element) => position.get(element) ?? -1));
  let next = null;
  for (let i = elements.length - 1; i >= 0; i--) {
    if (!staying.has(i)) body.insertBefore(elements[i], next);
    next = elements[i];
  }
}

/** The indexes of a longest strictly increasing run of `values` (-1: not placed yet, never part of it). */
export function longestIncreasingRun(values) {
  const tails = [];  // tails[k]: the index in values of the smallest last value of a run of length k + 1
  const previous = new Array(values.length).fill(-1);
  values.forEach((value, i) => {
    if (value < 0) return;
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (values[tails[middle]] < value) low = middle + 1;
      else high = middle;
    }
    if (low > 0) previous[i] = tails[low - 1];
    tails[low] = i;
  });
  const run = new Set();
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = previous[i]) run.add(i);
  return run;
}
