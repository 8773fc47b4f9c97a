// Images tab: text to image and image edits for every served image model, in the body its family takes
// (SDXL text_prompts / init_image / mask_image, Titan/Nova task types with a ControlNet condition image and a
// colour palette, SD3 / Stable Image prompt / aspect_ratio / image + strength), with live progress per
// denoising step (outcrop's progress route), cancel, a history gallery whose images can be edited, show code.

import { ApiError, invokeModel } from "./api.js";
import { FileBase64, invokeSnippets, wireText } from "./codegen.js";
import { CodeView } from "./codeview.js";
import { $, el, option } from "./dom.js";
import { TASKS, colorGuidedBody, editBody, maskColours, taskParts } from "./edits.js";
import { extendedImage } from "./extend.js";
import { base64Of, titanBytes } from "./files.js";
import { onLanguage, t } from "./i18n.js";
import { ImagePicker } from "./imagepick.js";
import { MaskCanvas } from "./maskcanvas.js";
import { PaletteEditor } from "./palette.js";
import { followProgress } from "./progress.js";
import { ASPECT_RATIOS, MIME, OUTPUT_FORMATS, SD3_MAX_SEED, sd3Body, sd3Kind, sd3Tasks } from "./sd3.js";

const SDXL_SIZES = ["1024x1024", "1152x896", "1216x832", "1344x768", "1536x640", "640x1536", "768x1344", "832x1216", "896x1152"];
const TITAN_SIZES = ["1024x1024", "768x768", "512x512", "768x1152", "384x576", "1152x768", "576x384", "768x1280", "384x640",
  "1280x768", "640x384", "896x1152", "448x576", "1152x896", "576x448", "768x1408", "384x704", "1408x768", "704x384",
  "640x1408", "320x704", "1408x640", "704x320", "1152x640", "1173x640"];
const SAMPLERS = ["DDIM", "DDPM", "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2", "K_DPM_2_ANCESTRAL", "K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS"];
const STYLES = ["3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance", "fantasy-art", "isometric",
  "line-art", "low-poly", "modeling-compound", "neon-punk", "origami", "photographic", "pixel-art", "tile-texture"];
// Per family: seed range and CFG range/default as Bedrock documents them.
const FAMILIES = {
  sdxl: { sizes: SDXL_SIZES, cfg: [0, 35, 7], maxSeed: 4294967295 },
  titan: { sizes: TITAN_SIZES, cfg: [1.1, 10, 8], maxSeed: 2147483646 },
  nova: { sizes: TITAN_SIZES.filter((s) => s.split("x").every((n) => Number(n) % 16 === 0)), cfg: [1.1, 10, 6.5], maxSeed: 858993459 },
  sd3: { sizes: ["1024x1024"], cfg: [1.1, 10, 6.5], maxSeed: SD3_MAX_SEED },  // sizes come from aspect_ratio; no CFG in the body
};

export function familyOf(modelId) {
  if (modelId.includes("stability.stable-diffusion-xl")) return "sdxl";
  if (sd3Kind(modelId)) return "sd3";
  if (modelId.includes("nova-canvas")) return "nova";
  return "titan";
}

function tasksOf(modelId) {
  const family = familyOf(modelId);
  if (family === "sdxl") return TASKS.sdxl;
  if (family === "sd3") return sd3Tasks(sd3Kind(modelId));
  return modelId.includes("titan-image-generator-v1") ? TASKS.titanV1 : TASKS.titan;
}

/** Titan Image v2 and Nova Canvas take a ControlNet conditionImage with TEXT_IMAGE; v1 does not. */
function conditioning(modelId) {
  const family = familyOf(modelId);
  return (family === "titan" || family === "nova") && !modelId.includes("titan-image-generator-v1");
}

class FormProblem extends Error {}

function number(id) { return Number($(id).value); }

/** The request body for the form's current values, as the model's family takes it. */
export function buildBody(family) {
  const prompt = $("img-prompt").value;
  const negative = $("img-negative").value.trim();
  const [width, height] = $("img-size").value.split("x").map(Number);
  const seed = Math.trunc(number("img-seed"));
  if (family === "sdxl") {
    const textPrompts = [{ text: prompt, weight: number("img-weight") }];
    if (negative) textPrompts.push({ text: negative, weight: -Math.abs(number("img-neg-weight")) });
    const body = { text_prompts: textPrompts, cfg_scale: number("img-cfg"), steps: Math.trunc(number("img-steps")), seed, width, height, samples: 1 };
    if ($("img-sampler").value) body.sampler = $("img-sampler").value;
    if ($("img-style").value) body.style_preset = $("img-style").value;
    return body;
  }
  const params = { text: prompt };
  if (negative) params.negativeText = negative;
  return {
    taskType: "TEXT_IMAGE",
    textToImageParams: params,
    imageGenerationConfig: {
      numberOfImages: Math.trunc(number("img-count")), quality: $("img-quality").value, cfgScale: number("img-cfg"), seed, width, height,
    },
  };
}

/** The values an edit body takes, read from the form. */
function formValues(family) {
  const [width, height] = $("img-size").value.split("x").map(Number);
  const negative = $("img-negative").value.trim();
  const values = {
    prompt: $("img-prompt").value, negative, width, height, seed: Math.trunc(number("img-seed")), cfg: number("img-cfg"),
    count: Math.trunc(number("img-count")), quality: $("img-quality").value, similarity: number("edit-similarity"),
    strength: number("edit-strength"), outpaintMode: $("edit-outpaint-mode").value, maskPrompt: $("edit-mask-prompt").value,
    sd3Strength: number("sd3-strength"), aspectRatio: $("sd3-aspect").value, outputFormat: $("sd3-format").value,
  };
  if (family === "sdxl") {
    const { width: _w, height: _h, ...base } = buildBody("sdxl");
    values.sdxlBase = base;  // SDXL edits take the output size from init_image
  }
  return values;
}

function bytesOfBase64(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export class ImagesTab {
  constructor(origin, showError) {
    this.origin = origin;
    this.showError = showError;
    this.controller = null;
    this.source = null;  // {name (as the code reads it), bytes, label, bitmap}
    this.links = [];
    this.history = [];  // [{label, blob}] of the gallery, oldest first: what the image pickers offer
    this.palette = new PaletteEditor();
    this.reference = new ImagePicker("cgg-ref", "reference", showError);
    this.condition = new ImagePicker("cond", "condition", showError);
    this.code = new CodeView("img-code-toggle", "img-code");
    this.canvas = new MaskCanvas($("edit-image"), $("edit-mask"));
    this.canvas.onChange(() => this.showCoverage());
    this.fillStatic();
    $("img-model").addEventListener("change", () => this.modelChanged());
    $("img-task").addEventListener("change", () => this.taskChanged());
    $("image-form").addEventListener("submit", (event) => { event.preventDefault(); this.generate(); });
    $("img-cancel").addEventListener("click", () => this.controller?.abort());
    $("edit-file").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      if (file) await this.setSource(file, file.name);
    });
    for (const radio of document.querySelectorAll("input[name=edit-brush-mode]")) {
      radio.addEventListener("change", () => { this.canvas.mode = radio.value; });
    }
    $("edit-brush-size").addEventListener("input", (event) => { this.canvas.size = Number(event.target.value); });
    $("edit-clear").addEventListener("click", () => this.canvas.clear());
    $("edit-extend").addEventListener("click", () => this.extend());
    onLanguage(() => {
      this.fillStatic();
      this.palette.render();
      this.showHistory();
      this.taskChanged();
    });
  }

  fillStatic() {
    const sampler = $("img-sampler").value, style = $("img-style").value;
    $("img-sampler").replaceChildren(option("", t("defaultOption")), ...SAMPLERS.map((s) => option(s, s, s === sampler)));
    $("img-style").replaceChildren(option("", t("defaultOption")), ...STYLES.map((s) => option(s, s, s === style)));
    const aspect = $("sd3-aspect").value || "1:1", format = $("sd3-format").value || "png";
    $("sd3-aspect").replaceChildren(...ASPECT_RATIOS.map((r) => option(r, r, r === aspect)));
    $("sd3-format").replaceChildren(...OUTPUT_FORMATS.map((f) => option(f, f, f === format)));
    this.fillTasks();
  }

  fillTasks() {
    const modelId = $("img-model").value;
    if (!modelId) return;
    const family = familyOf(modelId);
    const chosen = $("img-task").value;
    $("img-task").replaceChildren(...tasksOf(modelId).map((task) =>
      option(task, t(family !== "titan" && family !== "nova" && task === "IMAGE_VARIATION" ? "taskImageToImage" : `task_${task}`),
        task === chosen)));
  }

  setModels(models) {
    const select = $("img-model");
    select.replaceChildren(...models.map((m) => option(m.modelId, `${m.modelName} (${m.modelId})`)));
    $("img-generate").disabled = !models.length;
    if (!models.length) $("img-status").textContent = t("noImageModels");
    this.modelChanged();
  }

  modelChanged() {
    const modelId = $("img-model").value;
    if (!modelId) return;
    const family = familyOf(modelId);
    const spec = FAMILIES[family];
    $("sdxl-fields").hidden = family !== "sdxl";
    $("titan-fields").hidden = family !== "titan" && family !== "nova";
    $("sd3-fields").hidden = family !== "sd3";
    const size = $("img-size").value;
    $("img-size").replaceChildren(...spec.sizes.map((s) => option(s, s.replace("x", " × "), s === size)));
    const cfg = $("img-cfg");
    [cfg.min, cfg.max, cfg.value] = spec.cfg.map(String);
    $("img-seed").max = String(spec.maxSeed);
    this.fillTasks();
    this.taskChanged();
  }

  taskChanged() {
    const modelId = $("img-model").value;
    if (!modelId) return;
    const family = familyOf(modelId);
    const task = $("img-task").value;
    const parts = taskParts(family, task);
    $("edit-fields").hidden = !parts.edit;
    $("edit-canvas-field").hidden = !parts.edit || !this.source;
    $("edit-brush-tools").hidden = !parts.brush || !this.source;
    $("edit-mask").hidden = !parts.brush;
    $("edit-mask-prompt-field").hidden = !parts.maskPrompt;
    $("edit-similarity-field").hidden = !parts.similarity;
    $("edit-strength-field").hidden = !parts.strength;
    $("edit-outpaint-field").hidden = !parts.outpaint;
    $("edit-extend-field").hidden = !parts.outpaint || !this.source;
    $("cgg-fields").hidden = !parts.palette;
    $("cond-fields").hidden = !(task === "TEXT_IMAGE" && conditioning(modelId));
    $("sd3-aspect-field").hidden = !parts.aspect;
    $("sd3-strength-field").hidden = !parts.sd3Strength;
    $("img-prompt-field").hidden = $("img-negative-field").hidden = !parts.prompt;
    $("img-prompt").required = parts.prompt && parts.promptRequired;
    $("img-size-field").hidden = !parts.size;
    $("img-cfg-field").hidden = !parts.cfg;
    $("img-seed-field").hidden = !parts.config;
    if (family === "titan" || family === "nova") $("titan-fields").hidden = !parts.config;
    $("edit-brush-hint").textContent = t(task === "OUTPAINTING" ? "brushHintOutpaint" : "brushHintInpaint");
    $("img-generate").textContent = t(parts.edit ? "runEdit" : "generate");
  }

  /** Use a file or a history image as the source of edits; PNG and JPEG go as they are, others as PNG. */
  async setSource(blob, label) {
    try {
      const bitmap = await createImageBitmap(blob);
      const { bytes, ext } = await titanBytes(blob);
      this.source = { name: `source.${ext}`, bytes, label, bitmap };
      this.canvas.load(bitmap);
      $("edit-source-status").textContent = t("sourceLoaded", { name: label, width: bitmap.width, height: bitmap.height });
      this.showError(null);
    } catch {
      this.showError(t("unsupportedFile", { name: label }));
    }
    this.taskChanged();
  }

  /** Outpainting "extend this picture": the source on a larger canvas, the mask covering the original (kept). */
  async extend() {
    if (!this.source) { this.showError(t("needSource")); return; }
    const pad = Object.fromEntries(["left", "right", "top", "bottom"].map((side) =>
      [side, Math.max(0, Math.trunc(number(`edit-pad-${side}`)) || 0)]));
    if (!Object.values(pad).some((n) => n > 0)) { this.showError(t("needPadding")); return; }
    const { blob, rect } = await extendedImage(this.source.bitmap, pad);
    await this.setSource(blob, t("extendedLabel", { name: this.source.label }));
    this.canvas.paintRect(rect);
  }

  showCoverage() {
    const share = this.canvas.coverage();
    $("edit-coverage").textContent = t("maskCoverage", { percent: (share * 100).toFixed(1) });
  }

  /** The request (FileBase64 where a file's bytes go) and the files it reads. */
  async request(modelId) {
    const family = familyOf(modelId);
    const task = $("img-task").value;
    const form = formValues(family);
    if (family === "sd3" && task === "TEXT_IMAGE") return { request: sd3Body(sd3Kind(modelId), task, form, null), files: [] };
    if (task === "TEXT_IMAGE") {
      const request = buildBody(family);
      const condition = conditioning(modelId) ? await this.condition.chosen() : null;
      if (!condition) return { request, files: [] };
      Object.assign(request.textToImageParams, {
        conditionImage: new FileBase64(condition.name, base64Of(condition.bytes)),
        controlMode: $("cond-mode").value, controlStrength: number("cond-strength"),
      });
      return { request, files: [condition] };
    }
    if (task === "COLOR_GUIDED_GENERATION") {
      const reference = await this.reference.chosen();
      const image = reference ? new FileBase64(reference.name, base64Of(reference.bytes)) : null;
      return { request: colorGuidedBody(form, this.palette.values(), image), files: reference ? [reference] : [] };
    }
    if (!this.source) throw new FormProblem(t("needSource"));
    const parts = taskParts(family, task);
    const source = new FileBase64(this.source.name, base64Of(this.source.bytes));
    const files = [{ name: this.source.name, bytes: this.source.bytes }];
    if (family === "sd3") return { request: sd3Body(sd3Kind(modelId), task, form, source), files };
    let mask = null;
    if (parts.brush && !(parts.maskPrompt && form.maskPrompt.trim())) {
      if (this.canvas.coverage() === 0) throw new FormProblem(t(parts.maskPrompt ? "needMaskOrPrompt" : "needMask"));
      const bytes = await this.canvas.png(...maskColours(family));
      mask = new FileBase64("mask.png", base64Of(bytes));
      files.push({ name: "mask.png", bytes });
    }
    return { request: editBody(family, task, form, source, mask), files };
  }

  showFiles(files) {
    for (const url of this.links) URL.revokeObjectURL(url);
    this.links = files.map((file) => URL.createObjectURL(new Blob([file.bytes], { type: file.name.endsWith(".jpg") ? "image/jpeg" : "image/png" })));
    $("edit-links").replaceChildren(...files.map((file, i) => el("a", { href: this.links[i], download: file.name, text: file.name })));
    $("edit-files").hidden = !files.length;
  }

  startProgress() {
    const bar = $("img-progress");
    bar.hidden = false;
    bar.removeAttribute("value");  // indeterminate until the first step
    bar.dataset.steps = "0";
    return (event, data) => {
      if (event !== "step") return;
      bar.max = data.steps;
      bar.value = data.step;
      bar.dataset.steps = String(Number(bar.dataset.steps) + 1);
      $("img-status").textContent = t("stepOf", { step: data.step, steps: data.steps });
    };
  }

  async generate() {
    if (this.controller) return;
    const modelId = $("img-model").value;
    const family = familyOf(modelId);
    const task = $("img-task").value;
    let built;
    try {
      built = await this.request(modelId);
    } catch (error) {
      if (!(error instanceof FormProblem)) throw error;
      this.showError(error.message);
      return;
    }
    const { request, files } = built;
    const bodyText = wireText(request);
    this.code.show(invokeSnippets(this.origin, modelId, request));
    this.showFiles(files);
    this.controller = new AbortController();
    $("img-generate").disabled = true;
    $("img-cancel").disabled = false;
    $("img-status").textContent = t("generating");
    $("edit-mask-result-field").hidden = true;
    this.showError(null);
    const started = performance.now();
    let follower = null;
    try {
      follower = await followProgress(this.startProgress());
      const result = await invokeModel(modelId, bodyText, this.controller.signal, follower?.id);
      await follower?.settle();
      const sent = JSON.parse(bodyText);
      const seed = sent.imageGenerationConfig?.seed;
      const mime = MIME[sent.output_format] ?? "image/png";
      let images;
      if (family === "sdxl") images = result.artifacts.map((a) => ({ base64: a.base64, seed: a.seed, mime }));
      else if (family === "sd3") images = (result.images ?? []).map((b64, i) => ({ base64: b64, seed: result.seeds?.[i] ?? null, mime }));
      else images = result.images.map((b64, i) => ({ base64: b64, seed: seed === undefined ? null : seed + i, mime }));
      const ms = Math.round(performance.now() - started);
      // SD3 / Stable Image answer a filtered image with finish_reasons only (no images).
      const reasons = (result.finish_reasons ?? []).filter((reason) => reason);
      if (!images.length && reasons.length) throw new FormProblem(t("filtered", { reason: reasons.join("; ") }));
      for (const image of images) this.addToGallery(modelId, task, sent, image, ms);
      if (sent.inPaintingParams?.returnMask) this.showComputedMask(result.maskImage);
      $("img-status").textContent = t("generated", { count: images.length, ms });
    } catch (error) {
      if (error.name === "AbortError") $("img-status").textContent = t("cancelled");
      else if (error instanceof FormProblem) { $("img-status").textContent = ""; this.showError(error.message); }
      else { $("img-status").textContent = ""; this.showError(error instanceof ApiError ? error.describe() : String(error)); }
    } finally {
      follower?.close();
      if ($("img-progress").dataset.steps === "0") $("img-progress").hidden = true;
      this.controller = null;
      $("img-generate").disabled = false;
      $("img-cancel").disabled = true;
    }
  }

  /** The mask the server made from maskPrompt (returnMask); if none came back, say so rather than guess one. */
  showComputedMask(maskBase64) {
    const img = $("edit-mask-result");
    $("edit-mask-result-field").hidden = false;
    img.hidden = !maskBase64;
    if (maskBase64) {
      img.src = `data:image/png;base64,${maskBase64}`;
      img.alt = t("computedMaskAlt", { prompt: $("edit-mask-prompt").value.trim() });
      $("edit-mask-note").textContent = t("computedMaskNote");
    } else {
      $("edit-mask-note").textContent = t("noMaskReturned");
    }
  }

  addToGallery(modelId, task, request, image, ms) {
    const prompt = (request.text_prompts ? request.text_prompts[0].text : request.prompt ?? request.textToImageParams?.text
      ?? (request.imageVariationParams || request.inPaintingParams || request.outPaintingParams
        || request.colorGuidedGenerationParams || {}).text) || t(`task_${task}`);
    const config = request.imageGenerationConfig;
    let params;
    if (request.output_format) {
      params = (task === "TEXT_IMAGE" ? request.aspect_ratio : `${t("taskImageToImage")} · strength ${request.strength}`)
        + ` · ${request.output_format}`;
    } else if (task === "COLOR_GUIDED_GENERATION") {
      params = `${t(`task_${task}`)} · ${request.colorGuidedGenerationParams.colors.join(" ")} · ${config.width}×${config.height}`;
    } else if (task !== "TEXT_IMAGE") {
      params = `${request.text_prompts && task === "IMAGE_VARIATION" ? t("taskImageToImage") : t(`task_${task}`)}`
        + (config ? ` · cfg ${config.cfgScale} · ${config.quality}` : "")
        + (request.steps ? ` · cfg ${request.cfg_scale} · ${request.steps} steps` : "");
    } else if (config) {
      const control = request.textToImageParams.conditionImage ? ` · ${request.textToImageParams.controlMode} ${request.textToImageParams.controlStrength}` : "";
      params = `${config.width}×${config.height} · cfg ${config.cfgScale} · ${config.quality}${control}`;
    } else {
      params = `${request.width}×${request.height} · cfg ${request.cfg_scale} · ${request.steps} steps${request.sampler ? ` · ${request.sampler}` : ""}${request.style_preset ? ` · ${request.style_preset}` : ""}`;
    }
    const img = el("img", { src: `data:${image.mime};base64,${image.base64}`, alt: t("galleryAlt", { prompt }) });
    const seed = image.seed === null ? null : el("span", { class: "seed", text: t("captionSeed", { seed: image.seed }) });
    const caption = el("figcaption", {}, el("strong", { text: prompt }), el("br"), seed, `${seed ? " · " : ""}${modelId} · ${params} · ${ms} ms`);
    const number = this.history.length + 1;
    const edit = el("button", {
      type: "button", class: "edit-this", text: t("editThis"), "aria-label": t("editThisLabel", { prompt }),
      onclick: () => this.editFrom(image.base64, image.mime, number),
    });
    $("gallery").prepend(el("li", {}, el("figure", {}, img, caption, el("div", { class: "actions" }, edit))));
    this.history.push({ number, blob: new Blob([bytesOfBase64(image.base64)], { type: image.mime }) });
    this.showHistory();
  }

  /** Offer the history's images to the reference and condition pickers, by their number. */
  showHistory() {
    const entries = this.history.map((entry) => ({ label: t("historyImage", { number: entry.number }), blob: entry.blob }));
    this.reference.setHistory(entries);
    this.condition.setHistory(entries);
  }

  async editFrom(base64, mime, number) {
    await this.setSource(new Blob([bytesOfBase64(base64)], { type: mime }), t("historyImage", { number }));
    if (["TEXT_IMAGE", "COLOR_GUIDED_GENERATION"].includes($("img-task").value)) {
      $("img-task").value = familyOf($("img-model").value) === "sd3" ? "IMAGE_VARIATION" : "INPAINTING";
      this.taskChanged();
    }
    $("img-task").focus();
  }
}
