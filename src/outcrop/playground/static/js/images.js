// Images tab: text to image for every served image model, in the body its family takes
// (SDXL text_prompts, Titan/Nova TEXT_IMAGE), a history gallery, cancel, show code.

import { ApiError, invokeModel } from "./api.js";
import { invokeSnippets } from "./codegen.js";
import { CodeView } from "./codeview.js";
import { $, el, option } from "./dom.js";
import { onLanguage, t } from "./i18n.js";

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
};

export function familyOf(modelId) {
  if (modelId.includes("stable-diffusion-xl")) return "sdxl";
  if (modelId.includes("nova-canvas")) return "nova";
  return "titan";
}

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

export class ImagesTab {
  constructor(origin, showError) {
    this.origin = origin;
    this.showError = showError;
    this.controller = null;
    this.code = new CodeView("img-code-toggle", "img-code");
    this.fillStatic();
    $("img-model").addEventListener("change", () => this.modelChanged());
    $("image-form").addEventListener("submit", (event) => { event.preventDefault(); this.generate(); });
    $("img-cancel").addEventListener("click", () => this.controller?.abort());
    onLanguage(() => this.fillStatic());
  }

  fillStatic() {
    const sampler = $("img-sampler").value, style = $("img-style").value;
    $("img-sampler").replaceChildren(option("", t("defaultOption")), ...SAMPLERS.map((s) => option(s, s, s === sampler)));
    $("img-style").replaceChildren(option("", t("defaultOption")), ...STYLES.map((s) => option(s, s, s === style)));
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
    $("titan-fields").hidden = family === "sdxl";
    const size = $("img-size").value;
    $("img-size").replaceChildren(...spec.sizes.map((s) => option(s, s.replace("x", " × "), s === size)));
    const cfg = $("img-cfg");
    [cfg.min, cfg.max, cfg.value] = spec.cfg.map(String);
    $("img-seed").max = String(spec.maxSeed);
  }

  async generate() {
    const modelId = $("img-model").value;
    const family = familyOf(modelId);
    const bodyText = JSON.stringify(buildBody(family));
    this.code.show(invokeSnippets(this.origin, modelId, bodyText));
    this.controller = new AbortController();
    $("img-generate").disabled = true;
    $("img-cancel").disabled = false;
    $("img-status").textContent = t("generating");
    this.showError(null);
    const started = performance.now();
    try {
      const result = await invokeModel(modelId, bodyText, this.controller.signal);
      const request = JSON.parse(bodyText);
      const images = family === "sdxl"
        ? result.artifacts.map((a) => ({ base64: a.base64, seed: a.seed }))
        : result.images.map((b64, i) => ({ base64: b64, seed: request.imageGenerationConfig.seed + i }));
      const ms = Math.round(performance.now() - started);
      for (const image of images) this.addToGallery(modelId, request, image, ms);
      $("img-status").textContent = t("generated", { count: images.length, ms });
    } catch (error) {
      if (error.name === "AbortError") $("img-status").textContent = t("cancelled");
      else { $("img-status").textContent = ""; this.showError(error instanceof ApiError ? error.describe() : String(error)); }
    } finally {
      this.controller = null;
      $("img-generate").disabled = false;
      $("img-cancel").disabled = true;
    }
  }

  addToGallery(modelId, request, image, ms) {
    const prompt = request.text_prompts ? request.text_prompts[0].text : request.textToImageParams.text;
    const params = request.imageGenerationConfig
      ? `${request.imageGenerationConfig.width}×${request.imageGenerationConfig.height} · cfg ${request.imageGenerationConfig.cfgScale} · ${request.imageGenerationConfig.quality}`
      : `${request.width}×${request.height} · cfg ${request.cfg_scale} · ${request.steps} steps${request.sampler ? ` · ${request.sampler}` : ""}${request.style_preset ? ` · ${request.style_preset}` : ""}`;
    const img = el("img", { src: `data:image/png;base64,${image.base64}`, alt: t("galleryAlt", { prompt }) });
    const caption = el("figcaption", {},
      el("strong", { text: prompt }), el("br"),
      el("span", { class: "seed", text: t("captionSeed", { seed: image.seed }) }), ` · ${modelId} · ${params} · ${ms} ms`);
    $("gallery").prepend(el("li", {}, el("figure", {}, img, caption)));
  }
}
