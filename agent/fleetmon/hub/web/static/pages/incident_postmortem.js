// An incident's postmortem as a form (pages/incident.js draws it): summary, root cause, impact, resolution and
// the follow-ups (each with an owner and whether it is done), saved whole with PUT
// api/v1/incidents/ID/postmortem; beside it the link to the Markdown export. The page reads the incident again on
// every live change, so the form is filled from the hub only while the reader has no unsaved edit: a refresh never
// takes away what someone is writing. Viewers get the same fields, read-only and without buttons.
import { escapeHtml } from "../lib/html.js";

const TEXTS = [["summary", "Summary", 2], ["rootCause", "Root cause", 3], ["impact", "Impact", 2],
               ["resolution", "Resolution", 2]];

export class PostmortemForm {
  /** `onSaved()` after the hub stored it (the page reads the incident again). */
  constructor(container, ctx, { editable, onSaved }) {
    this.ctx = ctx;
    this.editable = editable;
    this.onSaved = onSaved;
    this.incidentId = null;
    this.dirty = false;  // edited since it was last filled from the hub
    this.shownFrom = "";  // the hub's postmortem the fields were filled from, as JSON
    this.rowIds = 0;
    const lock = editable ? "" : " readonly";
    container.innerHTML = '<form class="postmortem-form">' + TEXTS.map(([key, words, rows]) =>
      `<label for="postmortem-${key}">${words}</label><textarea id="postmortem-${key}" name="${key}" rows="${rows}"${lock}>` +
      "</textarea>").join("") +
      '<fieldset class="follow-ups"><legend>Follow-ups</legend><div class="follow-up-rows"></div>' +
      (editable ? '<button type="button" class="add-follow-up">Add a follow-up</button>' : "") + "</fieldset>" +
      '<p class="postmortem-note muted" aria-live="polite"></p><p class="form-error postmortem-error" role="alert"></p>' +
      '<div class="form-buttons"><a class="postmortem-export" href="" target="_blank" rel="noopener">Export as Markdown</a>' +
      (editable ? '<button type="submit" class="primary save-postmortem">Save the postmortem</button>' : "") + "</div></form>";
    this.form = container.querySelector("form");
    this.rows = container.querySelector(".follow-up-rows");
    this.note = container.querySelector(".postmortem-note");
    this.error = container.querySelector(".postmortem-error");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.editable) this.save();
    });
    if (!editable) return;
    this.form.addEventListener("input", () => this.edited());
    this.form.addEventListener("change", () => this.edited());
    container.querySelector(".add-follow-up").addEventListener("click", () => {
      this.addRow({ text: "", owner: "", done: false }).querySelector("input").focus();
      this.edited();
    });
    this.rows.addEventListener("click", (event) => {
      const remove = event.target.closest(".remove-follow-up");
      if (!remove) return;
      remove.closest(".follow-up-row").remove();
      this.form.querySelector(".add-follow-up").focus();
      this.edited();
    });
  }

  edited() {
    this.dirty = true;
    this.note.textContent = "Unsaved changes.";
  }

  /** The incident as last read: its postmortem in the fields unless the reader is editing them. */
  show(incident) {
    this.incidentId = incident.id;
    this.form.querySelector(".postmortem-export").href = `api/v1/incidents/${encodeURIComponent(incident.id)}/postmortem.md`;
    const from = JSON.stringify(incident.postmortem);
    if (this.dirty) {
      if (from !== this.shownFrom) this.note.textContent = "Unsaved changes; the postmortem changed on the hub meanwhile: saving replaces it.";
      return;
    }
    this.shownFrom = from;
    for (const [key] of TEXTS) this.form.elements[key].value = incident.postmortem[key] || "";
    this.rows.innerHTML = "";
    for (const item of incident.postmortem.followUps) this.addRow(item);
    if (!incident.postmortem.followUps.length && !this.editable) {
      this.rows.innerHTML = '<p class="muted">None.</p>';
    }
  }

  addRow({ text, owner, done }) {
    const id = ++this.rowIds;
    const lock = this.editable ? "" : " readonly";
    const row = document.createElement("div");
    row.className = "follow-up-row";
    row.innerHTML = `<label class="sr-only" for="follow-up-text-${id}">Follow-up</label>` +
      `<input id="follow-up-text-${id}" name="follow-up-text" type="text" value="${escapeHtml(text)}" ` +
      `placeholder="what is to be done" autocomplete="off"${lock}>` +
      `<label class="sr-only" for="follow-up-owner-${id}">Owner</label>` +
      `<input id="follow-up-owner-${id}" name="follow-up-owner" type="text" value="${escapeHtml(owner)}" ` +
      `placeholder="owner" autocomplete="off"${lock}>` +
      `<label class="check"><input name="follow-up-done" type="checkbox"${done ? " checked" : ""}${
        this.editable ? "" : " disabled"}> done</label>` +
      (this.editable ? `<button type="button" class="remove-follow-up">Remove<span class="sr-only"> the follow-up ${
        escapeHtml(text || "being written")}</span></button>` : "");
    this.rows.appendChild(row);
    return row;
  }

  /** The form as the API's postmortem object; follow-up rows left blank are not follow-ups. */
  value() {
    const body = Object.fromEntries(TEXTS.map(([key]) => [key, this.form.elements[key].value.trim()]));
    body.followUps = [...this.rows.querySelectorAll(".follow-up-row")].map((row) => ({
      text: row.querySelector("[name=follow-up-text]").value.trim(),
      owner: row.querySelector("[name=follow-up-owner]").value.trim(),
      done: row.querySelector("[name=follow-up-done]").checked,
    })).filter((item) => item.text);
    return body;
  }

  async save() {
    const button = this.form.querySelector(".save-postmortem");
    button.disabled = true;
    this.error.textContent = "";
    try {
      await this.ctx.api.send("PUT", `api/v1/incidents/${encodeURIComponent(this.incidentId)}/postmortem`, this.value());
    } catch (error) {
      this.error.textContent = `Not saved: ${error.message}`;
      return;
    } finally {
      button.disabled = false;
    }
    this.dirty = false;
    this.note.textContent = "Saved.";
    this.ctx.toast(`The postmortem of ${this.incidentId} is saved.`, "ok");
    this.onSaved();
  }
}
