// Boot: language, tabs (WAI-ARIA tab pattern, arrow keys), the API key prompt, the model catalogue.

import { apiKey, getJson, onAuthProblem, setApiKey } from "./api.js";
import { ChatTab } from "./chat.js";
import { GuardrailsTab } from "./guardrails.js";
import { $ } from "./dom.js";
import { applyI18n, language, setLanguage, t } from "./i18n.js";
import { ImagesTab } from "./images.js";
import { ModelsTab } from "./models.js";
import { SearchTab } from "./search.js";

const origin = window.location.origin;

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function setupTabs(onSelect) {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const select = (tab, focus = true) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    onSelect(tab.id);
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const i = tabs.indexOf(tab);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select(tabs[(next + tabs.length) % tabs.length]);
    });
  }
}

function askForKey(error) {
  const form = $("key-form");
  $("key-reason").textContent = apiKey() ? t("keyInvalid", { message: error.message }) : t("keyMissing");
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(window.location.hostname);
  $("key-cleartext").hidden = window.location.protocol === "https:" || loopback;
  form.hidden = false;
  $("key-input").focus();
}

async function loadCatalogue(tabs) {
  const { modelSummaries } = await getJson("/foundation-models");
  const sorted = [...modelSummaries].sort((a, b) => a.modelId.localeCompare(b.modelId));
  tabs.images.setModels(sorted.filter((m) => m.outputModalities.includes("IMAGE")));
  tabs.chat.setModels(sorted.filter((m) => m.outputModalities.includes("TEXT")));
  tabs.models.setModels(sorted);
  $("key-form").hidden = true;
  showError(null);
}

function boot() {
  applyI18n();
  const tabs = {
    images: new ImagesTab(origin, showError), chat: new ChatTab(origin, showError), search: new SearchTab(origin, showError),
    guardrails: new GuardrailsTab(origin, showError), models: new ModelsTab(showError),
  };
  setupTabs((id) => {
    if (id === "tab-models") tabs.models.refresh();
    if (id === "tab-search") tabs.search.load();
    if (id === "tab-guardrails") tabs.guardrails.load();
  });
  $("lang").addEventListener("click", () => setLanguage(language() === "ja" ? "en" : "ja"));
  onAuthProblem(askForKey);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey($("key-input").value.trim());
    $("key-input").value = "";
    loadCatalogue(tabs).catch((error) => { if (!$("key-form").hidden) return; showError(error.describe ? error.describe() : String(error)); });
  });
  loadCatalogue(tabs).catch((error) => { if ($("key-form").hidden) showError(error.describe ? error.describe() : String(error)); });
  tabs.models.refresh();
  document.body.dataset.ready = "true";
}

boot();
