// aelab drawing canvas: the student draws a digit with the mouse, a pen or a finger.
//
// White round strokes on black, about as thick (for the canvas's size) as MNIST's pen.
// When a stroke ends, and when the canvas is cleared, the whole drawing goes to Python
// shrunk to `output_side` x `output_side` grey levels (base64 bytes, row by row), with a
// fresh id; Python makes the MNIST-like digit from it (aelab.digit_image). A canvas that
// is mounted afresh (a page switch, a reload of the component) repaints the last drawing
// Python holds, so the picture and the digit shown beside it never disagree. Its words (the
// hint, the button, the screen reader's label) come from Python, in the page's language.

const STROKE_FRACTION = 1 / 10;  // the pen's width as a share of the side: a digit drawn over most of
// the canvas then holds about as much ink as MNIST's (measured: 1/14 gave 60-75% of it)
const TEMPLATE = `
  <div class="aelab-draw">
    <div class="pad">
      <canvas role="img" data-testid="draw-canvas"></canvas>
      <span class="hint" aria-hidden="true"></span>
    </div>
    <button type="button" class="clear" data-testid="draw-clear"></button>
  </div>`;

function bytesToB64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function b64ToBytes(b64) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

class DrawCanvas {
  constructor(parent) {
    const host = document.createElement("div");
    host.innerHTML = TEMPLATE;
    parent.appendChild(host);
    this.root = host.firstElementChild;
    this.pad = this.root.querySelector(".pad");
    this.canvas = this.root.querySelector("canvas");
    this.canvas.width = this.canvas.height = 280;  // square from the start; fitBacking sets the real size
    this.ctx = this.canvas.getContext("2d");
    this.wipe();
    this.hint = this.root.querySelector(".hint");
    this.id = Math.random().toString(36).slice(2);
    this.reports = 0;  // each report carries a fresh id, so the page can tell a new one from an old one
    this.strokes = 0;  // strokes on the canvas since it was last cleared (a restored drawing counts as one)
    this.pointer = null;  // the pointer drawing now (one at a time: a second finger is ignored)
    this.listeners = [];
    this.on(this.canvas, "pointerdown", (e) => this.pointerDown(e));
    this.on(this.canvas, "pointermove", (e) => this.pointerMove(e));
    this.on(this.canvas, "pointerup", (e) => this.pointerUp(e));
    this.on(this.canvas, "pointercancel", (e) => this.pointerUp(e));
    this.clearButton = this.root.querySelector("button.clear");
    this.on(this.clearButton, "click", () => this.clear());
    this.resizeObserver = new ResizeObserver(() => this.fitBacking());
    this.resizeObserver.observe(this.canvas);
    (window.__aelabCanvases ||= []).push(this);
  }

  on(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.listeners.push(() => target.removeEventListener(type, fn, options));
  }

  destroy() {
    this.listeners.forEach((off) => off());
    this.resizeObserver.disconnect();
    window.__aelabCanvases = (window.__aelabCanvases || []).filter((c) => c !== this);
    this.root.parentElement?.remove();
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.outputSide = data.output_side;
    this.pad.style.width = `${data.side}px`;
    this.canvas.setAttribute("aria-label", data.label);
    this.hint.textContent = data.hint;
    this.clearButton.textContent = data.clear;
    this.fitBacking();
    if (!this.data && data.restore) this.restore(data.restore);
    this.data = data;
  }

  // Keep the canvas's pixels at its CSS size times the device pixel ratio, keeping the drawing.
  fitBacking() {
    const dpr = window.devicePixelRatio || 1;
    const side = Math.round(this.canvas.clientWidth * dpr);
    if (side < 1 || side === this.canvas.width) return;
    const old = this.copy();
    this.canvas.width = this.canvas.height = side;
    this.wipe();
    this.ctx.drawImage(old, 0, 0, side, side);
  }

  copy() {
    const old = document.createElement("canvas");
    old.width = this.canvas.width; old.height = this.canvas.height;
    old.getContext("2d").drawImage(this.canvas, 0, 0);
    return old;
  }

  wipe() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.canvas.width / r.width, (e.clientY - r.top) * this.canvas.height / r.height];
  }

  // ---- drawing -------------------------------------------------------------------------

  pointerDown(e) {
    if (this.pointer !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.pointer = e.pointerId;
    this.pointerType = e.pointerType;  // "mouse", "pen" or "touch" (for the tests)
    this.last = this.point(e);
    this.segment(this.last, this.last);  // a tap leaves a dot
    this.strokes += 1;
    this.hint.hidden = true;
  }

  pointerMove(e) {
    if (e.pointerId !== this.pointer) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const move of events.length ? events : [e]) {
      const p = this.point(move);
      this.segment(this.last, p);
      this.last = p;
    }
  }

  pointerUp(e) {
    if (e.pointerId !== this.pointer) return;
    this.pointer = null;
    this.report();
  }

  segment(from, to) {
    const ctx = this.ctx;
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = this.canvas.width * STROKE_FRACTION;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  }

  clear() {
    this.wipe();
    this.strokes = 0;
    this.hint.hidden = false;
    this.report();
  }

  // Paint a drawing Python sent back (the last one it received) onto a fresh canvas.
  restore(drawing) {
    const small = document.createElement("canvas");
    small.width = drawing.width; small.height = drawing.height;
    const sctx = small.getContext("2d");
    const img = sctx.createImageData(drawing.width, drawing.height);
    const grey = b64ToBytes(drawing.pixels);
    for (let i = 0; i < grey.length; i++) {
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = grey[i];
      img.data[4 * i + 3] = 255;
    }
    sctx.putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.strokes = 1;
    this.hint.hidden = true;
  }

  // ---- to Python -----------------------------------------------------------------------

  // The drawing shrunk to outputSide x outputSide grey levels (the red channel: it is grey).
  shrunk() {
    const n = this.outputSide;
    const small = document.createElement("canvas");
    small.width = small.height = n;
    const sctx = small.getContext("2d", { willReadFrequently: true });
    sctx.imageSmoothingEnabled = true;
    sctx.imageSmoothingQuality = "high";
    sctx.drawImage(this.canvas, 0, 0, n, n);
    const rgba = sctx.getImageData(0, 0, n, n).data;
    const grey = new Uint8Array(n * n);
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
    return grey;
  }

  report() {
    const n = this.outputSide;
    this.setStateValue("drawing", {
      width: n, height: n, pixels: bytesToB64(this.shrunk()), strokes: this.strokes,
      id: `${this.id}-${++this.reports}`,
    });
  }
}

// ---- Streamlit entry point --------------------------------------------------------------

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  parentElement.__aelabCanvas ||= new DrawCanvas(parentElement);
  parentElement.__aelabCanvas.update(data, setStateValue);
  return () => {
    // Streamlit calls this when the component unmounts or before re-running this function
    // with new data; keep the instance (and its drawing), tear it down only when detached.
    queueMicrotask(() => {
      if (!parentElement.isConnected && parentElement.__aelabCanvas) {
        parentElement.__aelabCanvas.destroy();
        parentElement.__aelabCanvas = null;
      }
    });
  };
}
