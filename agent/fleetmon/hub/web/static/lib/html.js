// Pages build their markup as strings (one innerHTML per table: thousands of rows stay fast); every value
// that came from a host or a user goes through escapeHtml on its way in.

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A fragment's first element, from markup. */
export function element(markup) {
  const template = document.createElement("template");
  template.innerHTML = markup.trim();
  return template.content.firstElementChild;
}

/** "a=1, b=2" for a label set, sorted, without the names in `skip`. */
export function labelText(labels, skip = []) {
  return Object.keys(labels || {}).filter((k) => !skip.includes(k)).sort()
    .map((k) => `${k}=${labels[k]}`).join(", ");
}
