// Image edits in the bodies each family takes: Titan/Nova Canvas IMAGE_VARIATION, INPAINTING (a painted
// mask or maskPrompt), OUTPAINTING, BACKGROUND_REMOVAL; SDXL image-to-image (init_image) and inpainting
// (mask_source MASK_IMAGE_WHITE). Source and mask bytes are FileBase64 values, so "Show code" reads the
// same files the page sent.


export const TASKS = {
  sdxl: ["TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING"],
  titanV1: ["TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING"],
  titan: ["TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING", "BACKGROUND_REMOVAL"],
};

/** Which parts of the form a task uses. */
export function taskParts(family, task) {
  const titan = family !== "sdxl";
  const edit = task !== "TEXT_IMAGE";
  return {
    edit,
    brush: task === "INPAINTING" || task === "OUTPAINTING",
    maskPrompt: titan && task === "INPAINTING",
    similarity: titan && task === "IMAGE_VARIATION",
    strength: !titan && task === "IMAGE_VARIATION",
    outpaint: task === "OUTPAINTING",
    prompt: task !== "BACKGROUND_REMOVAL",
    // Titan/Nova take no text for a variation or an inpainting if none is given; SDXL and outpainting need one.
    promptRequired: !titan || task === "TEXT_IMAGE" || task === "OUTPAINTING",
    size: task === "TEXT_IMAGE" || (titan && task === "IMAGE_VARIATION"),
    config: task !== "BACKGROUND_REMOVAL",
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

