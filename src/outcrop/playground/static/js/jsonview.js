// JSON answers in the chat: an answer that looks like JSON (an object, an array, a ```json fence), or any
// answer to a turn that asked for JSON, is parsed, pretty-printed and marked valid, or flagged with the
// parser's complaint. Shown as text, never as markup.

import { el } from "./dom.js";
import { t } from "./i18n.js";

const FENCE = /^```(?:json)?\s*\n([\s\S]*?)\n?```$/i;

/** Whether a user's turn asks for JSON (then even `-2` or `"yes"` is checked as JSON). */
export function asksForJson(text) { return /(?<![a-z])json(?![a-z])/i.test(text || ""); }

/** {kind: "none"} for a plain answer, {kind: "valid", value, pretty} or {kind: "invalid", error}. */
export function jsonAnswer(text, expected = false) {
  let body = text.trim();
  const fenced = body.match(FENCE);
  if (fenced) body = fenced[1].trim();
  else if (!expected && !body.startsWith("{") && !body.startsWith("[")) return { kind: "none" };
  try {
    const value = JSON.parse(body);
    return { kind: "valid", value, pretty: JSON.stringify(value, null, 2) };
  } catch (error) {
    return { kind: "invalid", error: error.message };
  }
}

/** The block shown under a JSON answer, or null for a plain one. */
export function jsonBlock(text, expected = false) {
  const answer = jsonAnswer(text, expected);
  if (answer.kind === "none") return null;
  if (answer.kind === "invalid") {
    return el("div", { class: "json-check invalid" }, el("strong", { text: t("jsonInvalid") }), ` ${answer.error}`);
  }
  return el("div", { class: "json-check valid" }, el("strong", { text: t("jsonValid") }),
    el("pre", { class: "json", tabindex: "0", "aria-label": t("jsonPretty"), text: answer.pretty }));
}
