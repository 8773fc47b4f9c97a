// An optional image a body carries besides its source (a COLOR_GUIDED_GENERATION referenceImage, a TEXT_IMAGE
// conditionImage): none, a file, or an image of the history, picked with a labelled select and a file input.

import { $, option } from "./dom.js";
import { titanBytes } from "./files.js";
import { t } from "./i18n.js";

export class ImagePicker {
  /** Elements `${prefix}-pick` (select), `${prefix}-file` (input), `${prefix}-status`; `stem` names the file the code reads. */
  constructor(prefix, stem, showError) {
    this.select = $(`${prefix}-pick`);
    this.file = $(`${prefix}-file`);
    this.status = $(`${prefix}-status`);
    this.stem = stem;
    this.fromFile = null;  // {label, blob}
    this.history = [];  // [{label, blob}], oldest first
    this.file.addEventListener("change", () => {
      const file = this.file.files[0];
      if (!file) return;
      if (!file.type.startsWith("image/")) { showError(t("unsupportedFile", { name: file.name })); return; }
      this.fromFile = { label: file.name, blob: file };
      this.fill("file");
    });
    this.select.addEventListener("change", () => this.showStatus());
    this.fill("");
  }

  setHistory(entries) { this.history = entries; this.fill(this.select.value); }

  fill(chosen) {
    const options = [option("", t("pickNone"), chosen === "")];
    if (this.fromFile) options.push(option("file", t("pickFile", { name: this.fromFile.label }), chosen === "file"));
    this.history.forEach((entry, i) => options.push(option(`h${i}`, entry.label, chosen === `h${i}`)));
    this.select.replaceChildren(...options);
    this.showStatus();
  }

  entry() {
    const value = this.select.value;
    if (value === "file") return this.fromFile;
    return value ? this.history[Number(value.slice(1))] ?? null : null;
  }

  showStatus() {
    const entry = this.entry();
    this.status.textContent = entry ? t("pickChosen", { name: entry.label }) : "";
  }

  /** {name, bytes} of the picked image (PNG and JPEG as they are, others as PNG), or null when none is. */
  async chosen() {
    const entry = this.entry();
    if (!entry) return null;
    const { bytes, ext } = await titanBytes(entry.blob);
    return { name: `${this.stem}.${ext}`, bytes };
  }
}
