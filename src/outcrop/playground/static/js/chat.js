// Chat tab: multi-turn Converse / ConverseStream with images and documents (file, drop, paste), a system
// prompt and inference parameters; tokens appear as their frames arrive; Stop aborts the request; JSON
// answers are parsed, pretty-printed and flagged when invalid.

import { ApiError, call, modelPath } from "./api.js";
import { FileBytes, converseSnippets } from "./codegen.js";
import { CodeView } from "./codeview.js";
import { $, el, option } from "./dom.js";
import { converseEvents } from "./eventstream.js";
import { base64Of, readDocument, readImage } from "./files.js";
import { onLanguage, t } from "./i18n.js";
import { asksForJson, jsonBlock } from "./jsonview.js";


export class ChatTab {
  constructor(origin, showError) {
    this.origin = origin;
    this.showError = showError;
    this.history = [];       // Converse messages as sent: images as {name, format, bytes (Uint8Array)}
    this.pending = [];       // attachments for the next user turn
    this.controller = null;
    this.streamingModels = new Set();
    this.code = new CodeView("chat-code-toggle", "chat-code");
    $("chat-form").addEventListener("submit", (event) => { event.preventDefault(); this.send(); });
    $("chat-stop").addEventListener("click", () => this.controller?.abort());
    $("chat-clear").addEventListener("click", () => this.clear());
    $("chat-file").addEventListener("change", (event) => { this.attach(event.target.files); event.target.value = ""; });
    $("chat-model").addEventListener("change", () => this.modelChanged());
    const drop = $("drop");
    drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); this.attach(event.dataTransfer.files); });
    $("chat-input").addEventListener("paste", (event) => {
      const files = [...event.clipboardData.items].filter((item) => item.kind === "file").map((item) => item.getAsFile());
      if (files.length) { event.preventDefault(); this.attach(files); }
    });
    $("chat-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); $("chat-form").requestSubmit(); }
    });
    onLanguage(() => { this.renderAttachments(); this.renderTranscript(); });
  }

  setModels(models) {
    this.streamingModels = new Set(models.filter((m) => m.responseStreamingSupported).map((m) => m.modelId));
    $("chat-model").replaceChildren(...models.map((m) => option(m.modelId, `${m.modelName} (${m.modelId})`)));
    $("chat-send").disabled = !models.length;
    if (!models.length) $("chat-status").textContent = t("noChatModels");
    this.modelChanged();
  }

  modelChanged() {
    const streams = this.streamingModels.has($("chat-model").value);
    $("chat-stream").disabled = !streams;
    if (!streams) $("chat-stream").checked = false;
  }

  async attach(files) {
    // A copy first: the input is cleared right after this call starts, which empties its live FileList.
    for (const file of [...files]) {
      const image = await readImage(file, `pasted-${this.pending.length + 1}`);
      const doc = image ? null : await readDocument(file);
      if (image) this.pending.push(image);
      else if (doc) this.pending.push({ ...doc, docName: this.uniqueName(doc.docName), document: true });
      else this.showError(t("unsupportedAttachment", { name: file.name }));
    }
    this.renderAttachments();
  }

  /** Converse wants document names unique across the request: the whole conversation. */
  uniqueName(name) {
    const used = new Set([...this.history.flatMap((m) => m.content), ...this.pending.map((item) => ({ document: item }))]
      .filter((block) => block.document).map((block) => block.document.docName));
    let candidate = name;
    for (let i = 2; used.has(candidate); i++) candidate = `${name} (${i})`;
    return candidate;
  }

  renderAttachments() {
    $("attachments").replaceChildren(...this.pending.map((item, i) => el("li", {},
      item.document ? el("span", { class: "doc", text: item.format.toUpperCase() }) : el("img", { src: item.url, alt: item.name }),
      el("span", { text: item.name }),
      el("button", { type: "button", text: "×", "aria-label": t("remove", { name: item.name }),
        onclick: () => { if (item.url) URL.revokeObjectURL(item.url); this.pending.splice(i, 1); this.renderAttachments(); } }))));
  }

  clear() {
    this.controller?.abort();
    this.history = [];
    this.renderTranscript();
    $("chat-status").textContent = "";
  }

  /** The request: for the wire (image bytes base64) or for the snippets (image bytes as FileBytes). */
  request(forWire) {
    const messages = this.history.map((message) => ({
      role: message.role,
      content: message.content.map((block) => {
        if (block.image) {
          return { image: { format: block.image.format, source: { bytes: forWire ? base64Of(block.image.bytes) : new FileBytes(block.image.name) } } };
        }
        if (block.document) {
          const doc = block.document;
          return { document: { format: doc.format, name: doc.docName, source: { bytes: forWire ? base64Of(doc.bytes) : new FileBytes(doc.name) } } };
        }
        return { text: block.text };
      }),
    }));
    const request = { messages };
    const system = $("chat-system").value.trim();
    if (system) request.system = [{ text: system }];
    request.inferenceConfig = {
      maxTokens: Math.trunc(Number($("chat-max").value)), temperature: Number($("chat-temperature").value), topP: Number($("chat-topp").value),
    };
    return request;
  }

  renderTranscript(live = null) {
    const items = this.history.map((message, i) => this.messageItem(message, this.history[i - 1]));
    if (live) items.push(live);
    $("transcript").replaceChildren(...items);
  }

  messageItem(message, previous = null) {
    const expected = asksForJson(previous?.content.map((block) => block.text ?? "").join(" "));
    const body = [el("span", { class: "role", text: t(message.role === "user" ? "you" : "assistant") })];
    for (const block of message.content) {
      if (block.text !== undefined) {
        body.push(el("div", { class: "text", text: block.text }));
        if (message.role === "assistant") body.push(jsonBlock(block.text, expected));
      } else if (block.document) {
        body.push(el("div", { class: "doc", text: t("documentBlock", { name: block.document.docName, format: block.document.format }) }));
      } else body.push(el("img", { src: block.image.url, alt: block.image.name }));
    }
    return el("li", { class: message.role }, ...body);
  }

  async send() {
    if (this.controller) return;
    const text = $("chat-input").value;
    if (!text.trim() && !this.pending.length) { this.showError(t("emptyMessage")); return; }
    // Converse: a turn with a document must carry text too.
    if (!text.trim() && this.pending.some((item) => item.document)) { this.showError(t("documentNeedsText")); return; }
    this.showError(null);
    const content = this.pending.map((item) => (item.document ? { document: item } : { image: item }));
    if (text.trim()) content.push({ text });
    this.history.push({ role: "user", content });
    this.pending = [];
    this.renderAttachments();
    $("chat-input").value = "";
    const modelId = $("chat-model").value;
    const stream = $("chat-stream").checked;
    const bodyText = JSON.stringify(this.request(true));
    this.code.show(converseSnippets(this.origin, modelId, this.request(false), stream));

    const answer = el("div", { class: "text", id: "chat-live" });
    const live = el("li", { class: "assistant" }, el("span", { class: "role", text: t("assistant") }), answer);
    this.renderTranscript(live);
    this.controller = new AbortController();
    $("chat-send").disabled = true;
    $("chat-stop").disabled = false;
    $("chat-status").textContent = t("thinking");
    const started = performance.now();
    let firstToken = null;
    let usage = null, metrics = null, stopReason = "";
    try {
      const response = await call(modelPath(modelId, stream ? "converse-stream" : "converse"), {
        method: "POST", bodyText, signal: this.controller.signal, accept: stream ? "application/vnd.amazon.eventstream" : "application/json",
      });
      if (stream) {
        for await (const event of converseEvents(response.body)) {
          if (event.type === "contentBlockDelta" && event.data.delta?.text !== undefined) {
            if (firstToken === null) { firstToken = performance.now() - started; $("chat-status").textContent = t("streaming"); }
            answer.textContent += event.data.delta.text;
          } else if (event.type === "messageStop") stopReason = event.data.stopReason;
          else if (event.type === "metadata") { usage = event.data.usage; metrics = event.data.metrics; }
        }
      } else {
        const result = await response.json();
        firstToken = performance.now() - started;
        answer.textContent = result.output.message.content.map((block) => block.text ?? "").join("");
        usage = result.usage; metrics = result.metrics; stopReason = result.stopReason;
      }
      this.history.push({ role: "assistant", content: [{ text: answer.textContent }] });
      this.renderTranscript();
      $("chat-status").textContent = t("usage", {
        input: usage?.inputTokens, output: usage?.outputTokens, total: usage?.totalTokens, latency: metrics?.latencyMs,
        ttft: Math.round(firstToken ?? 0), elapsed: Math.round(performance.now() - started), stop: stopReason,
      });
    } catch (error) {
      if (error.name === "AbortError") {
        // What arrived stays on screen; the turn is kept so the conversation can go on.
        if (answer.textContent) this.history.push({ role: "assistant", content: [{ text: answer.textContent }] });
        else this.history.pop();
        this.renderTranscript();
        $("chat-status").textContent = t("stopped");
      } else {
        this.history.pop();
        this.renderTranscript();
        $("chat-status").textContent = "";
        this.showError(error instanceof ApiError ? error.describe() : t("requestFailed", { type: error.type || error.name, message: error.message }));
      }
    } finally {
      this.controller = null;
      $("chat-send").disabled = false;
      $("chat-stop").disabled = true;
    }
  }
}
