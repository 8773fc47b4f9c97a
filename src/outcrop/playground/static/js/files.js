// Reading picked / dropped / pasted image and document files into bytes the Bedrock bodies take.

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

// Converse DocumentBlock formats, by file extension.
export const DOCUMENT_FORMATS = ["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"];

/** A Converse document name: alphanumerics, single spaces, hyphens, parentheses, square brackets. */
export function documentName(fileName) {
  const stem = fileName.replace(/\.[^.]*$/, "");
  const name = stem.replace(/[^A-Za-z0-9 \-()[\]]+/g, "-").replace(/\s+/g, " ").trim().slice(0, 200);
  return name || "document";
}

/** {name (as the code reads it), docName, format, bytes} for a document file, or null for another type. */
export async function readDocument(file) {
  const format = (file.name.match(/\.([A-Za-z0-9]+)$/)?.[1] || "").toLowerCase();
  if (!DOCUMENT_FORMATS.includes(format)) return null;
  return { name: file.name, docName: documentName(file.name), format, bytes: new Uint8Array(await file.arrayBuffer()) };
}

/** An image's bytes in a format every Bedrock image body takes: PNG and JPEG as they are, others re-encoded as
 * PNG; with the file extension that goes with them. */
export async function titanBytes(blob) {
  if (blob.type === "image/png" || blob.type === "image/jpeg") {
    return { bytes: new Uint8Array(await blob.arrayBuffer()), ext: blob.type === "image/jpeg" ? "jpg" : "png" };
  }
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  return { bytes: new Uint8Array(await (await canvas.convertToBlob({ type: "image/png" })).arrayBuffer()), ext: "png" };
}
