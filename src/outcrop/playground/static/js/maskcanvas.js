// The source image of an edit and a mask painted over it: a brush that draws or erases, its size, clear.
// The painted layer is exported as the mask image a Bedrock body takes, in that body's colours (Titan/Nova:
// black = inside the mask; SDXL MASK_IMAGE_WHITE: white = repaint).

export class MaskCanvas {
  constructor(imageCanvas, maskCanvas) {
    this.image = imageCanvas;
    this.mask = maskCanvas;
    this.ctx = maskCanvas.getContext("2d", { willReadFrequently: true });  // coverage() reads it back
    this.mode = "draw";
    this.size = 40;  // on-screen pixels
    this.drawing = false;
    this.last = null;
    this.listeners = [];
    maskCanvas.addEventListener("pointerdown", (event) => {
      if (!this.mask.width) return;
      event.preventDefault();
      maskCanvas.setPointerCapture(event.pointerId);
      this.drawing = true;
      this.last = this.point(event);
      this.stroke(this.last, this.last);
    });
    maskCanvas.addEventListener("pointermove", (event) => {
      if (!this.drawing) return;
      const point = this.point(event);
      this.stroke(this.last, point);
      this.last = point;
    });
    const stop = () => { if (this.drawing) { this.drawing = false; this.changed(); } };
    maskCanvas.addEventListener("pointerup", stop);
    maskCanvas.addEventListener("pointercancel", stop);
  }

  onChange(listener) { this.listeners.push(listener); }
  changed() { for (const listener of this.listeners) listener(); }

  /** Show `bitmap` (an ImageBitmap) at its own size; the mask starts empty. */
  load(bitmap) {
    for (const canvas of [this.image, this.mask]) { canvas.width = bitmap.width; canvas.height = bitmap.height; }
    this.image.getContext("2d").drawImage(bitmap, 0, 0);
    this.clear();
  }

  point(event) {
    const rect = this.mask.getBoundingClientRect();
    return { x: (event.clientX - rect.left) * (this.mask.width / rect.width), y: (event.clientY - rect.top) * (this.mask.height / rect.height) };
  }

  stroke(from, to) {
    const ctx = this.ctx;
    const scale = this.mask.width / this.mask.getBoundingClientRect().width;
    ctx.globalCompositeOperation = this.mode === "erase" ? "destination-out" : "source-over";
    ctx.strokeStyle = "rgb(255, 0, 64)";
    ctx.lineWidth = this.size * scale;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  /** Paint a rectangle (image pixels) into the mask: the part an extended canvas keeps. */
  paintRect(rect) {
    this.ctx.globalCompositeOperation = "source-over";
    this.ctx.fillStyle = "rgb(255, 0, 64)";
    this.ctx.fillRect(rect.x, rect.y, rect.width, rect.height);
    this.changed();
  }

  clear() {
    this.ctx.clearRect(0, 0, this.mask.width, this.mask.height);
    this.changed();
  }

  /** Share of the image under the brush, 0..1. */
  coverage() {
    if (!this.mask.width) return 0;
    const { data } = this.ctx.getImageData(0, 0, this.mask.width, this.mask.height);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] >= 128) painted++;
    return painted / (this.mask.width * this.mask.height);
  }

  /** PNG bytes of the mask: `inside` where painted, `outside` elsewhere (CSS colours), no grey edge. */
  async png(inside, outside) {
    const { width, height } = this.mask;
    const out = new OffscreenCanvas(width, height);
    const ctx = out.getContext("2d");
    const painted = this.ctx.getImageData(0, 0, width, height);
    const colour = (css) => { ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1); return ctx.getImageData(0, 0, 1, 1).data; };
    const [a, b] = [colour(inside), colour(outside)];
    const pixels = ctx.createImageData(width, height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const c = painted.data[i + 3] >= 128 ? a : b;
      pixels.data[i] = c[0]; pixels.data[i + 1] = c[1]; pixels.data[i + 2] = c[2]; pixels.data[i + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
    return new Uint8Array(await (await out.convertToBlob({ type: "image/png" })).arrayBuffer());
  }
}
