// Models & health tab: the catalogue (ListFoundationModels), load state (/health) and queue depth and
// device memory (/metrics, Prometheus text).

import { getJson, call } from "./api.js";
import { $, el } from "./dom.js";
import { onLanguage, t } from "./i18n.js";

/** Prometheus text format -> [{name, labels, value}] (samples only; comments skipped). */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || line.startsWith("#")) continue;
    const labels = {};
    for (const pair of (match[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

export class ModelsTab {
  constructor(showError) {
    this.showError = showError;
    this.models = [];
    $("models-refresh").addEventListener("click", () => this.refresh());
    onLanguage(() => this.refresh());
  }

  setModels(models) { this.models = models; }

  async refresh() {
    try {
      const [health, metricsText] = await Promise.all([getJson("/health"), call("/metrics", { accept: "text/plain" }).then((r) => r.text())]);
      const samples = parseMetrics(metricsText);
      const sample = (name, model) => samples.find((s) => s.name === name && s.labels.model === model)?.value;
      const states = Object.fromEntries(health.engines.map((row) => [row.model, row]));
      const inflight = samples.find((s) => s.name === "outcrop_requests_in_flight")?.value ?? 0;
      $("health-summary").textContent = t("healthSummary", {
        status: health.status, version: health.version, profile: health.profile, count: health.models.length, inflight,
      });
      $("profile").textContent = `${health.profile} · ${health.version}`;
      const rows = (this.models.length ? this.models : health.models.map((modelId) => ({ modelId }))).map((m) => {
        const state = states[m.modelId];
        const queue = sample("outcrop_queue_depth", m.modelId);
        return el("tr", {},
          el("th", { scope: "row", text: m.modelId }),
          el("td", { text: m.inputModalities ? `${m.inputModalities.join(", ")} → ${m.outputModalities.join(", ")}` : "" }),
          el("td", { text: m.responseStreamingSupported === undefined ? "" : t(m.responseStreamingSupported ? "yes" : "no") }),
          el("td", { text: state ? `${state.state}${state.load_seconds ? ` (${state.load_seconds.toFixed(1)} s)` : ""}` : t("notLoaded") }),
          el("td", { text: queue === undefined ? "0" : String(queue) }));
      });
      $("models-table").tBodies[0].replaceChildren(...rows);
      const memory = samples.filter((s) => s.name === "outcrop_device_memory_bytes");
      $("devices").replaceChildren(...(memory.length
        ? memory.map((s) => el("li", { text: `${s.labels.device}: ${(s.value / 2 ** 20).toFixed(0)} MiB` }))
        : [el("li", { text: t("noDevice") })]));
    } catch (error) {
      this.showError(error.describe ? error.describe() : String(error));
    }
  }
}
