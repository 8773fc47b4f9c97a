// The palette of a COLOR_GUIDED_GENERATION body: 1 to 10 colours, each a colour input with its own label and a
// remove button; an add button (keyboard-reachable, disabled at the limits).

import { $, el } from "./dom.js";
import { t } from "./i18n.js";

export const MAX_COLOURS = 10;
const STARTING = ["#1f4e79", "#f2c14e", "#e4572e"];

export class PaletteEditor {
  constructor() {
    this.list = $("cgg-colors");
    this.colours = [...STARTING];
    $("cgg-add").addEventListener("click", () => {
      if (this.colours.length >= MAX_COLOURS) return;
      this.colours.push("#808080");
      this.render();
      this.list.querySelector("li:last-child input").focus();
    });
    this.render();
  }

  /** The colours as the body takes them (#rrggbb). */
  values() { return [...this.colours]; }

  set(colours) { this.colours = colours.slice(0, MAX_COLOURS); this.render(); }

  render() {
    this.list.replaceChildren(...this.colours.map((colour, i) => {
      const input = el("input", { type: "color", id: `cgg-color-${i}`, value: colour, "aria-label": t("colourN", { n: i + 1 }) });
      input.addEventListener("input", () => { this.colours[i] = input.value; });
      const remove = el("button", {
        type: "button", class: "remove-colour", text: "×", "aria-label": t("removeColourN", { n: i + 1 }),
        disabled: this.colours.length <= 1, onclick: () => { this.colours.splice(i, 1); this.render(); $("cgg-add").focus(); },
      });
      return el("li", {}, input, remove);
    }));
    $("cgg-add").disabled = this.colours.length >= MAX_COLOURS;
    $("cgg-count").textContent = t("colourCount", { count: this.colours.length, max: MAX_COLOURS });
  }
}
