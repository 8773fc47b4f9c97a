// Stability's SD3-generation bodies (SD3 / SD3.5 Large, Stable Image Ultra and Core): prompt, negative_prompt,
// aspect_ratio (text to image only), seed, output_format; SD3.5 names its `mode`, Ultra takes image + strength
// without one, Core is text to image only. The answer is {seeds, finish_reasons, images}.

export const ASPECT_RATIOS = ["1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"];
export const OUTPUT_FORMATS = ["png", "jpeg", "webp"];
export const MIME = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp" };
export const SD3_MAX_SEED = 4294967294;

/** "sd3" (takes mode), "ultra" (image + strength, no mode), "core" (text only), or null for another model. */
export function sd3Kind(modelId) {
  if (modelId.includes("stability.sd3")) return "sd3";
  if (modelId.includes("stability.stable-image-ultra")) return "ultra";
  if (modelId.includes("stability.stable-image-core")) return "core";
  return null;
}

export function sd3Tasks(kind) {
  return kind === "core" ? ["TEXT_IMAGE"] : ["TEXT_IMAGE", "IMAGE_VARIATION"];
}

/** The body for `task` (TEXT_IMAGE, or IMAGE_VARIATION = image to image with `source`, a FileBase64). */
export function sd3Body(kind, task, form, source) {
  const body = { prompt: form.prompt };
  if (form.negative) body.negative_prompt = form.negative;
  if (task === "IMAGE_VARIATION") {
    if (kind === "sd3") body.mode = "image-to-image";
    Object.assign(body, { image: source, strength: form.sd3Strength });
  } else {
    if (kind === "sd3") body.mode = "text-to-image";
    body.aspect_ratio = form.aspectRatio;
  }
  return Object.assign(body, { seed: form.seed, output_format: form.outputFormat });
}
