// Search tab: outcrop's own image-search routes (/outcrop/v1/collections...): pick a collection, query by
// text (any language) or by an image, results with scores and metadata; "Search by this" queries with a
// result's path (allowed inside the server's OUTCROP_SEARCH_ROOTS); index a server folder into a collection.

import { ApiError, call, getJson } from "./api.js";
import { searchSnippets } from "./codegen.js";
import { CodeView } from "./codeview.js";
import { $, el, option } from "./dom.js";
import { base64Of, readImage } from "./files.js";
import { onLanguage, t } from "./i18n.js";

export class SearchTab {
  constructor(origin, showError) {
    this.origin = origin;
    this.showError = showError;
    this.image = null;
    this.code = new CodeView("search-code-toggle", "search-code");
    $("search-form").addEventListener("submit", (event) => { event.preventDefault(); this.search({ text: $("search-text").value }); });
    $("search-image").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      this.image = file ? await readImage(file, "query") : null;
      if (file && !this.image) this.showError(t("unsupportedFile", { name: file.name }));
      $("search-image-go").disabled = !this.image;
    });
    $("search-image-go").addEventListener("click", () => this.image && this.search({ image: base64Of(this.image.bytes) }));
    $("search-refresh").addEventListener("click", () => this.load());
    this.indexCode = new CodeView("index-code-toggle", "index-code");
    $("index-form").addEventListener("submit", (event) => { event.preventDefault(); this.index(); });
    onLanguage(() => this.load());
  }

  async load() {
    try {
      const collections = await getJson("/outcrop/v1/collections");
      const chosen = $("search-collection").value;
      $("search-collection").replaceChildren(...collections.map((c) =>
        option(c.name, `${c.name} · ${c.count} · ${c.backend}`, c.name === chosen)));
      $("search-empty").hidden = collections.length > 0;
      $("search-go").disabled = !collections.length;
    } catch (error) {
      if (error instanceof ApiError && error.status !== 403) this.showError(error.describe());
    }
  }

  /** Index a server folder into a collection (created when new), then show it in the collection list. */
  async index() {
    const name = $("index-collection").value.trim();
    const path = `/outcrop/v1/collections/${encodeURIComponent(name)}/index`;
    const body = { folder: $("index-folder").value.trim() };
    if ($("index-recursive").checked) body.recursive = true;
    const bodyText = JSON.stringify(body);
    this.indexCode.show(searchSnippets(this.origin, path, bodyText, true));
    this.showError(null);
    $("index-go").disabled = true;
    $("index-status").textContent = t("indexing");
    try {
      const report = await (await call(path, { method: "POST", bodyText })).json();
      $("index-status").textContent = t("indexDone", { ...report, skipped: report.skipped.length });
      $("search-collection").value = "";
      await this.load();
      $("search-collection").value = report.collection;
    } catch (error) {
      $("index-status").textContent = "";
      this.showError(error instanceof ApiError ? error.describe() : String(error));
    } finally {
      $("index-go").disabled = false;
    }
  }

  async search(query) {
    const name = $("search-collection").value;
    if (!name) return;
    const path = `/outcrop/v1/collections/${encodeURIComponent(name)}/search`;
    const bodyText = JSON.stringify({ ...query, k: Math.trunc(Number($("search-k").value)) });
    this.code.show(searchSnippets(this.origin, path, bodyText));
    this.showError(null);
    $("search-status").textContent = t("searching");
    const started = performance.now();
    try {
      const result = await (await call(path, { method: "POST", bodyText })).json();
      const ms = Math.round(performance.now() - started);
      $("search-status").textContent = t("searchDone", { count: result.hits.length, ms });
      $("search-results").replaceChildren(...result.hits.map((hit, i) => this.row(hit, i)));
    } catch (error) {
      $("search-status").textContent = "";
      this.showError(error instanceof ApiError ? error.describe() : String(error));
    }
  }

  row(hit, i) {
    const taken = hit.taken_at ? new Date(hit.taken_at * 1000).toISOString().slice(0, 10) : "";
    return el("tr", {},
      el("td", { text: String(i + 1) }),
      el("td", { text: hit.score.toFixed(4) }),
      el("th", { scope: "row", class: "path", text: hit.path }),
      el("td", { text: hit.width ? `${hit.width} × ${hit.height}` : "" }),
      el("td", { text: `${Math.round(hit.size / 1024)} KiB` }),
      el("td", { text: taken }),
      el("td", {}, el("button", { type: "button", text: t("searchByThis"), "aria-label": t("searchByPath", { path: hit.path }),
        onclick: () => this.search({ imagePath: hit.path }) })));
  }
}
