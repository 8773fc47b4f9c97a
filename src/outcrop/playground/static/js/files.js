// Reading picked / dropped / pasted image files into bytes the Bedrock bodies take.

export const FORMATS = { "image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp" };

export function base64Of(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** {name, format, bytes, url} for an image file, or null when its type is not one Bedrock takes. */
export async function readImage(file, fallbackName) {
  const format = FORMATS[file.type];
  if (!format) return null;
  const bytes = new Uint8Array(await file.arrayBuffer());
  const name = file.name && file.name !== "image.png" ? file.name : `${fallbackName}.${format}`;
  return { name, format, bytes, url: URL.createObjectURL(file) };
}
