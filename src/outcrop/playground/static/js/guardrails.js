// Guardrails tab: ApplyGuardrail (bedrock-runtime) against a guardrail listed by ListGuardrails
// (the bedrock control plane), on text and images, as INPUT or OUTPUT; every assessment shown.

import { ApiError, call, getJson } from "./api.js";
import { FileBytes, applyGuardrailSnippets } from "./codegen.js";
import { CodeView } from "./codeview.js";
import { $, el, option } from "./dom.js";
import { base64Of, readImage } from "./files.js";
import { onLanguage, t } from "./i18n.js";

export class GuardrailsTab {
  constructor(origin, showError) {
    this.origin = origin;
    this.showError = showError;
    this.image = null;
    this.code = new CodeView("gr-code-toggle", "gr-code");
    $("gr-form").addEventListener("submit", (event) => { event.preventDefault(); this.apply(); });
    $("gr-refresh").addEventListener("click", () => this.load());
    $("gr-image").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      this.image = file ? await readImage(file, "image") : null;
      if (file && !this.image) this.showError(t("unsupportedFile", { name: file.name }));
      $("gr-image-status").textContent = this.image ? `${this.image.name} · ${this.image.bytes.length} B` : "";
    });
    onLanguage(() => this.load());
  }

  async load() {
    try {
      const { guardrails } = await getJson("/guardrails");
      const chosen = $("gr-id").value;
      $("gr-id").replaceChildren(...guardrails.map((g) => option(g.id, `${g.name} (${g.id})`, g.id === chosen)));
      $("gr-empty").hidden = guardrails.length > 0;
      $("gr-apply").disabled = !guardrails.length;
    } catch (error) {
      if (error instanceof ApiError && error.status !== 403) this.showError(error.describe());
    }
  }

  /** The request as boto3 takes it; images as FileBytes (snippets) or base64 (the wire). */
  request(forWire) {
    const content = [];
    if ($("gr-text").value) content.push({ text: { text: $("gr-text").value } });
    if (this.image) {
      content.push({ image: { format: this.image.format, source: { bytes: forWire ? base64Of(this.image.bytes) : new FileBytes(this.image.name) } } });
    }
    return { guardrailIdentifier: $("gr-id").value, guardrailVersion: $("gr-version").value.trim() || "DRAFT",
      source: $("gr-source").value, content, outputScope: $("gr-scope").value };
  }

  async apply() {
    const wire = this.request(true);
    const { guardrailIdentifier, guardrailVersion, ...body } = wire;
    const path = `/guardrail/${encodeURIComponent(guardrailIdentifier)}/version/${encodeURIComponent(guardrailVersion)}/apply`;
    this.code.show(applyGuardrailSnippets(this.origin, this.request(false)));
    this.showError(null);
    try {
      const result = await (await call(path, { method: "POST", bodyText: JSON.stringify(body) })).json();
      $("gr-action").textContent = `${result.action}${result.actionReason ? ` · ${result.actionReason}` : ""}`;
      $("gr-outputs").replaceChildren(...(result.outputs || []).map((o) => el("li", { text: o.text })));
      $("gr-assessments").textContent = JSON.stringify(result.assessments, null, 2);
      $("gr-result").hidden = false;
    } catch (error) {
      $("gr-result").hidden = true;
      this.showError(error instanceof ApiError ? error.describe() : String(error));
    }
  }
}
