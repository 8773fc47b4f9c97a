// "Extend this picture" for OUTPAINTING: a larger canvas with the original placed at (left, top), the new border
// filled with a blurred stretch of the original (so the repainted border starts from its colours), and the
// rectangle the original covers, which becomes the part of the mask that is kept.

/** {blob (PNG), rect: {x, y, width, height}} for `bitmap` padded by `pad` {left, right, top, bottom} pixels. */
export async function extendedImage(bitmap, pad) {
  const width = bitmap.width + pad.left + pad.right, height = bitmap.height + pad.top + pad.bottom;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.filter = `blur(${Math.max(4, Math.round(Math.min(width, height) / 24))}px)`;
  ctx.drawImage(bitmap, 0, 0, width, height);
  ctx.filter = "none";
  ctx.drawImage(bitmap, pad.left, pad.top);
  const blob = await canvas.convertToBlob({ type: "image/png" });
  return { blob, rect: { x: pad.left, y: pad.top, width: bitmap.width, height: bitmap.height } };
}
