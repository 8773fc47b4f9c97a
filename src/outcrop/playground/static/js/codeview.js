// The "Show code" box: a toggle button, the boto3 and JavaScript snippets, copy buttons.

import { el, $ } from "./dom.js";
import { t, onLanguage } from "./i18n.js";

export class CodeView {
  constructor(toggleId, boxId) {
    this.toggle = $(toggleId);
    this.box = $(boxId);
    this.snippets = null;
    this.toggle.addEventListener("click", () => this.setOpen(this.box.hidden));
    onLanguage(() => { this.render(); this.label(); });
  }

  setOpen(open) {
    this.box.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    this.label();
    if (open) this.render();
  }

  label() { this.toggle.textContent = t(this.box.hidden ? "showCode" : "hideCode"); }

  show(snippets) {
    this.snippets = snippets;
    if (!this.box.hidden) this.render();
  }

  render() {
    if (this.box.hidden) return;
    const id = this.box.id;
    if (!this.snippets) {
      this.box.replaceChildren(el("p", { text: t("noRequestYet") }));
      return;
    }
    const parts = [el("p", { class: "hint", text: t("codeNote") })];
    const labels = this.snippets.labels || { python: "python", javascript: "javascript" };
    for (const [lang, text] of [["python", this.snippets.python], ["javascript", this.snippets.javascript]]) {
      const status = el("span", { role: "status", class: "hint" });
      const pre = el("pre", { id: `${id}-${lang}`, tabindex: "0", "aria-label": t(labels[lang]) }, el("code", { text }));
      const copy = el("button", {
        type: "button", text: t("copy"), "aria-describedby": `${id}-${lang}-title`,
        onclick: async () => {
          try { await navigator.clipboard.writeText(text); status.textContent = t("copied"); } catch { status.textContent = ""; }
        },
      });
      parts.push(el("h4", { id: `${id}-${lang}-title`, text: t(labels[lang]) }), el("div", { class: "actions" }, copy, status), pre);
    }
    this.box.replaceChildren(...parts);
  }
}
