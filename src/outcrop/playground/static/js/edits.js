// Image edits in the bodies each family takes: Titan/Nova Canvas IMAGE_VARIATION, INPAINTING (a painted
// mask or maskPrompt), OUTPAINTING, BACKGROUND_REMOVAL, COLOR_GUIDED_GENERATION (a palette, an optional
// referenceImage); SDXL image-to-image (init_image) and inpainting (mask_source MASK_IMAGE_WHITE). Source,
// mask and reference bytes are FileBase64 values, so "Show code" reads the same files the page sent.


export const TASKS = {
  sdxl: ["TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING"],
  titanV1: ["TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING"],
  titan: ["TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING", "BACKGROUND_REMOVAL", "COLOR_GUIDED_GENERATION"],
};

/** Which parts of the form a task uses; `family` is sdxl, titan, nova or sd3. */
export function taskParts(family, task) {
  const titan = family === "titan" || family === "nova";
  const sd3 = family === "sd3";
  const palette = task === "COLOR_GUIDED_GENERATION";
  const edit = task !== "TEXT_IMAGE" && !palette;
  return {
    edit,
    palette,
    brush: task === "INPAINTING" || task === "OUTPAINTING",
    maskPrompt: titan && task === "INPAINTING",
    similarity: titan && task === "IMAGE_VARIATION",
    strength: family === "sdxl" && task === "IMAGE_VARIATION",
    sd3Strength: sd3 && task === "IMAGE_VARIATION",
    outpaint: task === "OUTPAINTING",
    prompt: task !== "BACKGROUND_REMOVAL",
    // Titan/Nova take no text for a variation or an inpainting if none is given; the others and outpainting need one.
    promptRequired: !titan || task === "TEXT_IMAGE" || task === "OUTPAINTING" || palette,
    size: !sd3 && (task === "TEXT_IMAGE" || palette || (titan && task === "IMAGE_VARIATION")),
    aspect: sd3 && task === "TEXT_IMAGE",
    config: task !== "BACKGROUND_REMOVAL",
    cfg: !sd3 && task !== "BACKGROUND_REMOVAL",
  };
}

/** A COLOR_GUIDED_GENERATION body: `colours` (#rrggbb), `reference` a FileBase64 or null. */
export function colorGuidedBody(form, colours, reference) {
  const params = { colors: colours, text: form.prompt };
  if (form.negative) params.negativeText = form.negative;
  if (reference) params.referenceImage = reference;
  return {
    taskType: "COLOR_GUIDED_GENERATION",
    colorGuidedGenerationParams: params,
    imageGenerationConfig: {
      numberOfImages: form.count, quality: form.quality, cfgScale: form.cfg, seed: form.seed, width: form.width, height: form.height,
    },
  };
}

/** The body of an edit. `form` holds the form's values; `source` and `mask` are FileBase64 (mask may be null). */
export function editBody(family, task, form, source, mask) {
  if (family === "sdxl") {
    const body = { ...form.sdxlBase, init_image: source };
    if (task === "IMAGE_VARIATION") Object.assign(body, { init_image_mode: "IMAGE_STRENGTH", image_strength: form.strength });
    else Object.assign(body, { mask_source: "MASK_IMAGE_WHITE", mask_image: mask });
    return body;
  }
  if (task === "BACKGROUND_REMOVAL") return { taskType: task, backgroundRemovalParams: { image: source } };
  const text = {};
  if (form.prompt.trim()) text.text = form.prompt;
  if (form.negative) text.negativeText = form.negative;
  const config = { numberOfImages: form.count, quality: form.quality, cfgScale: form.cfg, seed: form.seed };
  if (task === "IMAGE_VARIATION") {
    return {
      taskType: task,
      imageVariationParams: { images: [source], ...text, similarityStrength: form.similarity },
      imageGenerationConfig: { ...config, width: form.width, height: form.height },
    };
  }
  if (task === "INPAINTING") {
    const masking = form.maskPrompt.trim() ? { maskPrompt: form.maskPrompt.trim(), returnMask: true } : { maskImage: mask };
    return { taskType: task, inPaintingParams: { image: source, ...text, ...masking }, imageGenerationConfig: config };
  }
  return {
    taskType: task,
    outPaintingParams: { image: source, ...text, maskImage: mask, outPaintingMode: form.outpaintMode },
    imageGenerationConfig: config,
  };
}

/** Mask colours of a family: [painted, elsewhere]. Titan/Nova: black = inside the mask; SDXL white = repaint. */
export function maskColours(family) {
  return family === "sdxl" ? ["#ffffff", "#000000"] : ["#000000", "#ffffff"];
}

