// aelab latent map, part 2: a canvas of latent codes with a probe the user drags.
//
// The decoder's weights arrive once per model (in a data element of their own, which Streamlit
// sends once and then refers to by hash), so while the probe moves the browser
// decodes it itself (no server round trip per mouse move). On release the probe's
// position goes back to Python, which decodes it exactly and stays the source of truth:
// its image replaces the browser's once it arrives. A model whose decoder the browser
// cannot run (a convolutional one) shows the server's image only, with a note saying so.
// Maps in one link group follow each other: a clicked digit moves every map to its own
// code of that digit; a dragged probe moves maps that share its coordinates ("coords"),
// or moves "digits" maps to their own code of the digit nearest the probe.
// Every text the map writes comes translated from Python (data.texts); hovering a digit shows
// the image beside its reconstruction; data.present (presenter mode) draws it all bolder.

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const MANIFOLD_TILES = 14;   // tiles across the visible map when the manifold is shown
const PROBE_GRAB_PX = 14;    // how close the pointer must be to grab the probe
const HOVER_PX = 7;          // how close the pointer must be to hover a point
const MAX_ELLIPSES = 300;    // sigma ellipses drawn for a thinned subset of points
const SETTLE_MS = 800;       // how long a map that followed another waits for its own part of the page's run

// A text from Python with its {names} filled in (a missing text is empty: none is written here).
function fill(template, values = {}) {
  return (template || "").replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

// Many small images in one PNG (payload.sprite): image i at row i // columns, column i % columns.
// Decoded once, on first use, and shared by every map that holds the same part.
function spriteSheet(spec) {
  if (!spec) return null;
  if (!spec.__sheet) {
    const image = new Image();
    const sheet = { spec, image, ready: false, waiting: [] };
    image.onload = () => { sheet.ready = true; sheet.waiting.splice(0).forEach((fn) => fn()); };
    image.src = `data:image/png;base64,${spec.png}`;
    Object.defineProperty(spec, "__sheet", { value: sheet, enumerable: false });
  }
  return spec.__sheet;
}

// Paint image ``index`` of a sheet on ``canvas`` (at its own size); false when it is not there.
function paintFromSheet(sheet, index, canvas, whenReady) {
  if (!sheet || index >= sheet.spec.count) return false;
  const { width, height, columns } = sheet.spec;
  canvas.width = width; canvas.height = height;
  if (!sheet.ready) { sheet.waiting.push(whenReady); return true; }
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(sheet.image, (index % columns) * width, Math.floor(index / columns) * height, width, height,
    0, 0, width, height);
  return true;
}

function paintImage(ctx, pixels, width, height, invert = false) {
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < pixels.length; i++) {
    const v = Math.round(255 * (invert ? 1 - pixels[i] : pixels[i]));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// A (R, R) grid of values in [0, 1] (row 0 at the bottom) as a translucent red image.
function buildHoleImage(spec) {
  const values = b64ToFloat32(spec.grid);
  const R = spec.resolution;
  const image = document.createElement("canvas");
  image.width = R; image.height = R;
  const ctx = image.getContext("2d");
  const pixels = ctx.createImageData(R, R);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < R; c++) {
      const o = 4 * ((R - 1 - r) * R + c);  // flip: the image's first row is the top
      pixels.data[o] = 214; pixels.data[o + 1] = 39; pixels.data[o + 2] = 40;
      pixels.data[o + 3] = Math.round(150 * values[r * R + c]);
    }
  }
  ctx.putImageData(pixels, 0, 0);
  return { image, xRange: spec.x_range, yRange: spec.y_range };
}

// ---- one map instance -------------------------------------------------------------------

const TEMPLATE = `
  <div class="aelab-map">
    <div class="plot">
      <canvas class="map" data-testid="latent-map"></canvas>
      <div class="tooltip" data-testid="hover-panel">
        <div class="pair">
          <figure class="original"><canvas data-testid="hover-original"></canvas><figcaption></figcaption></figure>
          <figure class="recon"><canvas data-testid="hover-reconstruction"></canvas><figcaption></figcaption></figure>
        </div>
        <span class="what"></span>
      </div>
      <div class="legend"></div>
    </div>
    <div class="side">
      <div class="title"><strong></strong><span></span></div>
      <div class="decoded-title"></div>
      <canvas class="decoded" data-testid="live-decode"></canvas>
      <div class="readout" data-testid="probe-readout"></div>
      <div class="source" data-testid="decode-source"></div>
      <div class="note"></div>
    </div>
  </div>`;

class LatentMap {
  constructor(parent) {
    const host = document.createElement("div");
    host.innerHTML = TEMPLATE;
    parent.appendChild(host);
    this.root = host.firstElementChild;
    this.canvas = this.root.querySelector("canvas.map");
    this.ctx = this.canvas.getContext("2d");
    this.decodedCanvas = this.root.querySelector("canvas.decoded");
    this.tooltip = this.root.querySelector(".tooltip");
    this.readout = this.root.querySelector(".readout");
    this.source = this.root.querySelector(".source");
    this.note = this.root.querySelector(".note");
    this.legend = this.root.querySelector(".legend");
    this.decodedTitle = this.root.querySelector(".decoded-title");
    this.hovered = -1;
    this.id = Math.random().toString(36).slice(2);
    this.reports = 0;  // each report carries a fresh id, so the page can tell a new one from an old one
    this.decodes = 0;  // decodes run in the browser (for the benchmark)
    this.shown = 0;  // images painted beside the map, from either source
    this.decodeTimes = [];
    this.drag = null;
    this.listeners = [];
    this.on(this.canvas, "pointerdown", (e) => this.pointerDown(e));
    this.on(this.canvas, "pointermove", (e) => this.pointerMove(e));
    this.on(this.canvas, "pointerup", (e) => this.pointerUp(e));
    this.on(this.canvas, "pointercancel", (e) => this.pointerUp(e));
    this.on(this.canvas, "pointerleave", () => this.hideTooltip());
    this.on(this.canvas, "wheel", (e) => this.wheel(e), { passive: false });
    this.on(window, "aelab-probe", (e) => this.linkedProbe(e.detail));
    this.on(window, "aelab-settled", (e) => this.settle(e.detail));
    this.on(window, SHARED_EVENT, () => this.pending && this.receive(this.pending.dynamic, this.pending.setStateValue));
    this.resizeObserver = new ResizeObserver(() => this.invalidate(true));
    this.resizeObserver.observe(this.canvas);
    (window.__aelabMaps ||= []).push(this);
  }

  on(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.listeners.push(() => target.removeEventListener(type, fn, options));
  }

  destroy() {
    clearTimeout(this.settleTimer);
    this.listeners.forEach((off) => off());
    this.resizeObserver.disconnect();
    window.__aelabMaps = (window.__aelabMaps || []).filter((m) => m !== this);
    this.root.parentElement?.remove();
  }

  // The page's small per-run payload names the shared parts (points, decoder, hole map) that
  // arrived once in the map's data elements; the map draws their union. A part not here yet
  // (its element's module still loading) is waited for.
  receive(dynamic, setStateValue) {
    const parts = (dynamic.shared || []).map((id) => sharedPart(id));
    if (parts.some((part) => !part)) {
      this.pending = { dynamic, setStateValue };
      return;
    }
    this.pending = null;
    this.update(Object.assign({}, ...parts, dynamic), setStateValue);
  }

  // Take a new payload from Python; heavy parts are rebuilt only when they change.
  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.data = data;
    this.texts = data.texts || {};
    this.root.classList.toggle("present", !!data.present);
    if (data.payload_id !== this.payloadId) {
      this.payloadId = data.payload_id;
      this.points = {
        x: b64ToFloat32(data.points.x), y: b64ToFloat32(data.points.y), label: data.points.label,
      };
      this.sigma = data.sigma ? { x: b64ToFloat32(data.sigma.x), y: b64ToFloat32(data.sigma.y) } : null;
      this.decoder = data.decoder ? new MlpDecoder(data.decoder) : null;
      this.inverse = new Inverse(data.inverse, data.latent_dim);
      this.z = new Float32Array(data.latent_dim);
      this.pixels = this.decoder ? new Float32Array(this.decoder.height * this.decoder.width) : null;
      this.buildLegend();
      this.manifoldKey = null;
    }
    const viewChanged = JSON.stringify(data.view) !== JSON.stringify(this.lastDataView);
    if (viewChanged || !this.view) this.setViewBounds(data.view);
    this.lastDataView = data.view;
    const probeChanged = JSON.stringify(data.probe) !== JSON.stringify(this.lastDataProbe);
    if ((probeChanged || !this.probe) && !this.drag) {
      this.probe = { x: data.probe[0], y: data.probe[1] };
      this.followed = null;
    }
    this.lastDataProbe = data.probe;
    // Keyed on the position as well as the image: two positions can decode to the same image
    // (a saturated corner of the map), and the image must then move to the new position.
    const serverKey = data.server ? `${data.server.probe}|${data.server.image}` : null;
    if (serverKey !== (this.server && this.server.key)) {
      this.server = data.server ? {
        key: serverKey, x: data.server.probe[0], y: data.server.probe[1],
        pixels: b64ToFloat32(data.server.image), height: data.server.shape[0], width: data.server.shape[1],
      } : null;
    }
    if ((data.holes && data.holes.grid) !== this.holesSource) {
      this.holesSource = data.holes && data.holes.grid;
      this.holes = data.holes ? buildHoleImage(data.holes) : null;
    }
    this.note.textContent = [data.note, this.decoder ? "" : this.texts.no_browser_decoder].filter(Boolean).join(" ");
    this.decodedTitle.textContent = this.texts.decoded_title || "";
    const [name, about] = data.title || ["", ""];  // presenter mode: the model's name beside its map
    this.root.querySelector(".side .title strong").textContent = name;
    this.root.querySelector(".side .title span").textContent = about;
    this.root.querySelector(".side .title").style.display = data.title ? "" : "none";
    this.originals = spriteSheet(data.originals);
    this.reconstructions = spriteSheet(data.reconstructions);
    this.canvas.dataset.model = data.model;
    this.invalidate(true);
    this.decodeProbe();
    if (this.awaitingRun) {  // the page has run with this map's report: tell the maps that followed it
      window.dispatchEvent(new CustomEvent("aelab-settled", { detail: { source: this.id } }));
    }
    this.awaitingRun = false;
  }

  // A map that followed another one's probe holds a position only the browser knows, and the page
  // may not have moved it (a page that links maps it does not move together): its probe then never
  // changes in the payload, and this map is not updated at all. Once the page has run with the other
  // map's report, and this map got no new probe in that run (SETTLE_MS to arrive), it goes back to
  // the page's position: the page stays the source of truth.
  settle({ source }) {
    if (!this.followed || this.followed !== source) return;
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      const dragging = (window.__aelabMaps || []).some((m) => m.drag && m.drag.mode === "probe");
      if (!this.followed || dragging || !this.root.isConnected) return;
      this.followed = null;
      this.probe = { x: this.data.probe[0], y: this.data.probe[1] };
      this.scheduleFrame();
    }, SETTLE_MS);
  }

  buildLegend() {
    const labels = [...new Set(this.points.label)].sort((a, b) => a - b);
    this.legend.innerHTML = "";
    labels.forEach((label) => {
      const item = document.createElement("span");
      item.style.setProperty("--swatch", PALETTE[label % PALETTE.length]);
      item.textContent = String(label);
      this.legend.appendChild(item);
    });
  }

  // ---- view: a centre and a scale (pixels per latent unit), equal on both axes ----------

  size() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    return { w, h, dpr };
  }

  setViewBounds([x0, x1, y0, y1]) {
    const { w, h } = this.size();
    this.view = {
      cx: (x0 + x1) / 2, cy: (y0 + y1) / 2,
      scale: Math.min(w / Math.max(x1 - x0, 1e-9), h / Math.max(y1 - y0, 1e-9)),
    };
  }

  viewBounds() {
    const { w, h } = this.size();
    const { cx, cy, scale } = this.view;
    return [cx - w / 2 / scale, cx + w / 2 / scale, cy - h / 2 / scale, cy + h / 2 / scale];
  }

  toScreen(x, y) {
    const { w, h } = this.size();
    return [w / 2 + (x - this.view.cx) * this.view.scale, h / 2 - (y - this.view.cy) * this.view.scale];
  }

  toWorld(event) {
    const { w, h, dpr } = this.size();
    const rect = this.canvas.getBoundingClientRect();
    const sx = (event.clientX - rect.left) * dpr, sy = (event.clientY - rect.top) * dpr;
    return [this.view.cx + (sx - w / 2) / this.view.scale, this.view.cy - (sy - h / 2) / this.view.scale, sx, sy];
  }

  // ---- pointer interaction ---------------------------------------------------------------

  pointerDown(event) {
    if (!this.data) return;  // nothing drawn yet
    const [x, y, sx, sy] = this.toWorld(event);
    const [px, py] = this.toScreen(this.probe.x, this.probe.y);
    const dpr = window.devicePixelRatio || 1;
    const onProbe = Math.hypot(px - sx, py - sy) <= PROBE_GRAB_PX * dpr;
    this.drag = { mode: onProbe ? "probe" : "pan", sx, sy, x, y, moved: false, view: { ...this.view } };
    try { this.canvas.setPointerCapture(event.pointerId); } catch { /* synthetic pointers have no capture */ }
    this.canvas.classList.add("dragging");
    this.hideTooltip();
    if (onProbe) this.moveProbe(x, y);
    event.preventDefault();
  }

  pointerMove(event) {
    if (!this.data) return;
    const [x, y, sx, sy] = this.toWorld(event);
    if (!this.drag) {
      this.hover(sx, sy);
      const [px, py] = this.toScreen(this.probe.x, this.probe.y);
      const near = Math.hypot(px - sx, py - sy) <= PROBE_GRAB_PX * (window.devicePixelRatio || 1);
      this.canvas.classList.toggle("over-probe", near);
      return;
    }
    this.drag.moved ||= Math.hypot(sx - this.drag.sx, sy - this.drag.sy) > 3;
    if (this.drag.mode === "probe") {
      this.moveProbe(x, y);
    } else if (this.drag.moved) {
      const v = this.drag.view;
      this.view = { ...v, cx: v.cx - (sx - this.drag.sx) / v.scale, cy: v.cy + (sy - this.drag.sy) / v.scale };
      this.invalidate(false);
    }
  }

  pointerUp(event) {
    if (!this.drag) return;
    const drag = this.drag;
    this.drag = null;
    this.canvas.classList.remove("dragging");
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    if (drag.mode === "probe") {
      this.reportProbe(null);
    } else if (!drag.moved) {
      const hit = this.nearestPoint(drag.sx, drag.sy);  // a click on a data point snaps the probe to it
      if (hit >= 0) {
        this.moveProbe(this.points.x[hit], this.points.y[hit], true, hit);
        this.reportProbe(hit);
      }
    } else {
      this.reportView();
    }
  }

  wheel(event) {
    event.preventDefault();
    if (!this.data) return;
    const [x, y] = this.toWorld(event);
    const factor = Math.exp(-event.deltaY * 0.0015);
    const { cx, cy, scale } = this.view;
    const s = clamp(scale * factor, 1e-3, 1e6);
    // keep the latent point under the pointer fixed while zooming
    this.view = { scale: s, cx: x - (x - cx) * (scale / s), cy: y - (y - cy) * (scale / s) };
    this.invalidate(false);
    clearTimeout(this.wheelTimer);
    this.wheelTimer = setTimeout(() => this.reportView(), 300);
  }

  // Linked maps follow the probe. A clicked digit (``picked``) moves every map of the group
  // to its own code of that digit. A dragged probe moves "coords" maps (the same latent
  // plane) to the same coordinates, and "digits" maps to their own code of the digit
  // nearest the probe.
  moveProbe(x, y, broadcast = true, picked = null) {
    this.probe = { x, y };
    const link = this.data.link;
    if (broadcast && link) {
      const detail = { group: link.group, follow: link.follow, source: this.id, x, y, picked };
      if (picked === null && link.follow === "digits") detail.nearest = this.nearestIndex(x, y);
      window.dispatchEvent(new CustomEvent("aelab-probe", { detail }));
    }
    this.scheduleFrame();
  }

  linkedProbe({ x, y, picked, nearest, group, follow, source }) {
    const link = this.data && this.data.link;
    if (source === this.id || !link || link.group !== group || this.drag) return;
    const index = picked ?? (link.follow === "digits" ? nearest ?? this.nearestIndex(x, y) : null);
    if (index !== null && index !== undefined && index < this.points.x.length) {
      this.moveProbe(this.points.x[index], this.points.y[index], false);
    } else if (link.follow === "coords" && follow === "coords") {
      this.moveProbe(x, y, false);
    } else {
      return;
    }
    this.followed = source;  // the map whose report the page must run before this position is confirmed
  }

  nearestIndex(x, y) {  // the data point nearest a latent position
    const { x: xs, y: ys } = this.points;
    let best = 0, bestD = Infinity;
    for (let i = 0; i < xs.length; i++) {
      const d = (xs[i] - x) ** 2 + (ys[i] - y) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }

  reportProbe(picked) {
    const x = Number(this.probe.x.toFixed(5)), y = Number(this.probe.y.toFixed(5));
    this.lastDataProbe = [x, y];
    this.reportedAt = performance.now();  // for the benchmark: release-to-server latency
    this.awaitingRun = true;
    const nearest = this.data.link && this.data.link.follow === "digits" ? this.nearestIndex(x, y) : null;
    this.setStateValue("probe", { x, y, picked, nearest, view: this.viewBounds(), id: this.reportId() });
  }

  reportView() {
    this.setStateValue("view", { bounds: this.viewBounds().map((v) => Number(v.toFixed(5))), id: this.reportId() });
  }

  reportId() { return `${this.id}-${++this.reports}`; }

  // ---- drawing -------------------------------------------------------------------------------

  invalidate(full) {
    if (full) this.manifoldKey = null;
    this.scheduleFrame();
    if (this.data?.show_manifold) {
      clearTimeout(this.manifoldTimer);
      this.manifoldTimer = setTimeout(() => { this.buildManifold(); this.scheduleFrame(); }, 120);
    }
  }

  scheduleFrame() {
    if (this.framePending) return;
    this.framePending = true;
    requestAnimationFrame(() => {
      this.framePending = false;
      if (!this.view || !this.points) return;
      this.draw();
      this.decodeProbe();
    });
  }

  // One image for the probe: the server's exact decode when it is for this position, else the
  // browser's live decode (or, without a browser decoder, the server's last image, dimmed).
  decodeProbe() {
    const { x, y } = this.probe;
    const readout = this.inverse.kind === "grid" ? this.texts.readout_approx : this.texts.readout;
    this.readout.textContent = fill(readout, { x: x.toFixed(3), y: y.toFixed(3) });
    this.canvas.dataset.probe = `${x},${y}`;
    const server = this.server;
    const dragging = this.drag && this.drag.mode === "probe";  // panning the view leaves the probe where it is
    const atServer = server && !dragging && Math.abs(server.x - x) < 1e-4 && Math.abs(server.y - y) < 1e-4;
    let source;
    if (atServer || (!this.decoder && server)) {
      this.paintDecoded(server.pixels, server.width, server.height);
      source = atServer ? "server" : "stale";
    } else if (this.decoder) {
      this.decoder.decode(this.inverse.toLatent(x, y, this.z), this.pixels);
      this.paintDecoded(this.pixels, this.decoder.width, this.decoder.height);
      source = "browser";
    }
    this.decodedCanvas.dataset.source = source || "none";
    this.decodedCanvas.classList.toggle("stale", source === "stale");
    this.source.textContent = source ? this.texts[`source_${source}`] || "" : "";
    if (source !== "browser") return;
    this.decodes += 1;
    this.decodeTimes.push(performance.now());  // for the benchmark: decodes per second while dragging
    if (this.decodeTimes.length > 4000) this.decodeTimes.splice(0, 2000);
    this.decodedCanvas.dataset.decodes = String(this.decodes);
  }

  paintDecoded(pixels, width, height) {
    if (this.decodedCanvas.width !== width || this.decodedCanvas.height !== height) {
      this.decodedCanvas.width = width;
      this.decodedCanvas.height = height;
    }
    paintImage(this.decodedCanvas.getContext("2d"), pixels, width, height);
    this.shown += 1;
  }

  decodeAt(x, y) {  // for tests: the browser's decode of a map position, as a plain array
    return Array.from(this.decoder.decode(this.inverse.toLatent(x, y)));
  }

  draw() {
    const { w, h, dpr } = this.size();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w, h);
    if (this.data.show_manifold && this.manifold) this.drawManifold(ctx);
    if (this.holes) this.drawHoles(ctx);
    this.drawGrid(ctx, w, h, dpr);
    if (this.data.prior) this.drawPrior(ctx, dpr);
    this.drawPoints(ctx, dpr);
    if (this.data.show_sigma && this.sigma) this.drawEllipses(ctx, dpr);
    if (this.data.segment) this.drawSegment(ctx, dpr);
    this.drawTickLabels(ctx, w, h, dpr);
    this.drawProbe(ctx, dpr);
    this.drawAxisNames(ctx, w, h, dpr);
  }

  // Sizes of what is drawn on the map, in CSS pixels: bolder for a projector (presenter mode).
  style() {
    return this.data.present
      ? { tick: 17, tickColor: "#111", axis: 18, point: 2.4, probe: 13, probeLine: 4, segment: 3.5, label: 20 }
      : { tick: 12, tickColor: "rgba(0,0,0,0.72)", axis: 13, point: 1.8, probe: 9, probeLine: 2, segment: 2,
        label: 13 };
  }

  drawGrid(ctx, w, h, dpr) {
    ctx.strokeStyle = "rgba(0,0,0,0.1)";
    ctx.lineWidth = dpr;
    const { xs, ys } = this.ticks();
    xs.forEach(([, sx]) => { ctx.beginPath(); ctx.moveTo(sx, 0); ctx.lineTo(sx, h); ctx.stroke(); });
    ys.forEach(([, sy]) => { ctx.beginPath(); ctx.moveTo(0, sy); ctx.lineTo(w, sy); ctx.stroke(); });
  }

  // Grid positions on screen, [value, pixel], at a "nice" step in map units.
  ticks() {
    const [x0, x1, y0, y1] = this.viewBounds();
    const step = niceStep(Math.max(x1 - x0, y1 - y0), this.data.present ? 5 : 6);
    const xs = [], ys = [];
    for (let v = Math.ceil(x0 / step) * step; v <= x1; v += step) xs.push([v, this.toScreen(v, 0)[0]]);
    for (let v = Math.ceil(y0 / step) * step; v <= y1; v += step) ys.push([v, this.toScreen(0, v)[1]]);
    return { xs, ys };
  }

  // The tick labels, over the points with a white outline so they stay readable; only labels that fit
  // whole, and none in the bottom row where the x labels are.
  drawTickLabels(ctx, w, h, dpr) {
    const look = this.style();
    const size = look.tick * dpr;
    ctx.font = `${size}px sans-serif`;
    ctx.textBaseline = "alphabetic";
    ctx.lineJoin = "round";
    ctx.lineWidth = 3 * dpr;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.fillStyle = look.tickColor;
    const label = (v, x, y) => {
      const text = Number(v.toPrecision(6)).toString();
      ctx.strokeText(text, x, y);
      ctx.fillText(text, x, y);
    };
    const { xs, ys } = this.ticks();
    xs.forEach(([v, sx]) => {
      const text = Number(v.toPrecision(6)).toString();
      if (sx + 3 * dpr + ctx.measureText(text).width < w) label(v, sx + 3 * dpr, h - 4 * dpr);
    });
    ys.forEach(([v, sy]) => {
      if (sy - 3 * dpr - size > 0 && sy - 3 * dpr < h - size * 1.6) label(v, 4 * dpr, sy - 3 * dpr);
    });
  }

  // The axes' names (from Python): x at the bottom right, above the tick labels; y at the top left.
  drawAxisNames(ctx, w, h, dpr) {
    const names = ((this.texts.axes || {})[this.inverse.kind] || []).slice(0, this.data.latent_dim === 1 ? 1 : 2);
    const look = this.style();
    ctx.font = `bold ${look.axis * dpr}px sans-serif`;
    const pad = 4 * dpr, line = look.axis * 1.3 * dpr;
    const spots = [[w - pad, h - pad - look.tick * 1.4 * dpr, "right"], [pad + 28 * dpr, pad + line * 0.8, "left"]];
    names.forEach((name, i) => {
      const [x, y, align] = spots[i];
      const width = ctx.measureText(name).width;
      const left = align === "right" ? x - width : x;
      ctx.fillStyle = "rgba(255,255,255,0.8)";
      ctx.fillRect(left - 2 * dpr, y - line * 0.8, width + 4 * dpr, line);
      ctx.fillStyle = look.tickColor;
      ctx.textAlign = align;
      ctx.fillText(name, x, y);
    });
    ctx.textAlign = "left";
  }

  drawPoints(ctx, dpr) {
    const { x, y, label } = this.points;
    const r = this.style().point * dpr;
    ctx.globalAlpha = this.data.show_manifold ? 0.55 : 0.8;
    for (let i = 0; i < x.length; i++) {
      const [sx, sy] = this.toScreen(x[i], y[i]);
      ctx.fillStyle = PALETTE[label[i] % PALETTE.length];
      ctx.fillRect(sx - r, sy - r, 2 * r, 2 * r);
    }
    ctx.globalAlpha = 1;
  }

  drawEllipses(ctx, dpr) {
    const { x, y, label } = this.points;
    const stride = Math.max(1, Math.ceil(x.length / MAX_ELLIPSES));
    ctx.lineWidth = dpr;
    for (let i = 0; i < x.length; i += stride) {
      const [sx, sy] = this.toScreen(x[i], y[i]);
      ctx.strokeStyle = PALETTE[label[i] % PALETTE.length];
      ctx.globalAlpha = 0.45;
      ctx.beginPath();
      ctx.ellipse(sx, sy, this.sigma.x[i] * this.view.scale, this.sigma.y[i] * this.view.scale, 0, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  drawPrior(ctx, dpr) {
    const [cx, cy] = this.toScreen(...this.data.prior.center);
    ctx.strokeStyle = "rgba(0,0,0,0.55)";
    ctx.setLineDash([6 * dpr, 5 * dpr]);
    ctx.lineWidth = 1.2 * dpr;
    this.data.prior.radii.forEach((radius) => {
      ctx.beginPath();
      ctx.arc(cx, cy, radius * this.view.scale, 0, 2 * Math.PI);
      ctx.stroke();
    });
    ctx.setLineDash([]);
  }

  drawSegment(ctx, dpr) {
    const [ax, ay] = this.toScreen(...this.data.segment.a);
    const [bx, by] = this.toScreen(...this.data.segment.b);
    const look = this.style();
    ctx.strokeStyle = "#111";
    ctx.lineWidth = look.segment * dpr;
    ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
    ctx.font = `bold ${look.label * dpr}px sans-serif`;
    ctx.fillStyle = "#111";
    ctx.fillText("A", ax + 5 * dpr, ay - 5 * dpr);
    ctx.fillText("B", bx + 5 * dpr, by - 5 * dpr);
  }

  drawProbe(ctx, dpr) {
    const [sx, sy] = this.toScreen(this.probe.x, this.probe.y);
    const { probe: r, probeLine: line } = this.style();
    const arm = r * 1.6;
    ctx.lineWidth = (line + 1.5) * dpr;
    ctx.strokeStyle = "#fff";
    ctx.beginPath(); ctx.arc(sx, sy, r * dpr, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = line * dpr;
    ctx.strokeStyle = "#d6336c";
    ctx.beginPath(); ctx.arc(sx, sy, r * dpr, 0, 2 * Math.PI); ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(sx - arm * dpr, sy); ctx.lineTo(sx + arm * dpr, sy);
    ctx.moveTo(sx, sy - arm * dpr); ctx.lineTo(sx, sy + arm * dpr);
    ctx.stroke();
  }

  // The decoded manifold: a grid of decodes tiled over the visible part of the map.
  buildManifold() {
    if (!this.decoder || !this.view) return;
    const { w, h } = this.size();
    const key = `${w}x${h}:${this.view.cx}:${this.view.cy}:${this.view.scale}`;
    if (key === this.manifoldKey) return;
    this.manifoldKey = key;
    const tile = w / MANIFOLD_TILES;
    const rows = Math.ceil(h / tile);
    const { width, height } = this.decoder;
    const sheet = document.createElement("canvas");
    sheet.width = MANIFOLD_TILES * width;
    sheet.height = rows * height;
    const sctx = sheet.getContext("2d");
    const tileCanvas = document.createElement("canvas");
    tileCanvas.width = width; tileCanvas.height = height;
    const tctx = tileCanvas.getContext("2d");
    const pixels = new Float32Array(width * height);
    const [x0, , , y1] = this.viewBounds();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < MANIFOLD_TILES; c++) {
        const x = x0 + (c + 0.5) * tile / this.view.scale;
        const y = y1 - (r + 0.5) * tile / this.view.scale;
        this.decoder.decode(this.inverse.toLatent(x, y), pixels);
        paintImage(tctx, pixels, width, height, true);
        sctx.drawImage(tileCanvas, c * width, r * height);
      }
    }
    this.manifold = { sheet, tile, rows, cx: this.view.cx, cy: this.view.cy, scale: this.view.scale };
  }

  drawManifold(ctx) {
    const m = this.manifold;
    // where the sheet's top-left corner (built for an older view) lands in this view
    const { w, h } = this.size();
    const left = m.cx - w / 2 / m.scale, top = m.cy + h / 2 / m.scale;
    const [sx, sy] = this.toScreen(left, top);
    const k = this.view.scale / m.scale;
    ctx.imageSmoothingEnabled = true;
    ctx.globalAlpha = 0.9;
    ctx.drawImage(m.sheet, sx, sy, MANIFOLD_TILES * m.tile * k, m.rows * m.tile * k);
    ctx.globalAlpha = 1;
  }

  // The hole map: red where the data never put a code, so decodes there are untrustworthy.
  drawHoles(ctx) {
    const { image, xRange, yRange } = this.holes;
    const [left, top] = this.toScreen(xRange[0], yRange[1]);
    const [right, bottom] = this.toScreen(xRange[1], yRange[0]);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(image, left, top, right - left, bottom - top);
  }

  // ---- hover -------------------------------------------------------------------------------

  nearestPoint(sx, sy) {
    const { x, y } = this.points;
    const limit = (HOVER_PX * (window.devicePixelRatio || 1)) ** 2;
    let best = -1, bestD = limit;
    for (let i = 0; i < x.length; i++) {
      const [px, py] = this.toScreen(x[i], y[i]);
      const d = (px - sx) ** 2 + (py - sy) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }

  // The hovered digit: the data set's image beside the model's reconstruction of it. The original
  // comes from the data set's sheet; the reconstruction from the model's sheet, or, where a point is
  // its own code and the browser runs the decoder, from decoding the point here.
  hover(sx, sy) {
    const hit = this.nearestPoint(sx, sy);
    if (hit < 0) { this.hideTooltip(); return; }
    this.hovered = hit;
    const again = () => { if (this.hovered === hit) this.hover(sx, sy); };
    this.tooltip.querySelector(".what").textContent = fill(this.texts.hover,
      { label: this.points.label[hit], index: hit });
    const [original, recon] = this.tooltip.querySelectorAll("figure");
    const hasOriginal = paintFromSheet(this.originals, hit, original.querySelector("canvas"), again);
    const reconCanvas = recon.querySelector("canvas");
    let hasRecon = paintFromSheet(this.reconstructions, hit, reconCanvas, again);
    if (!hasRecon && this.decoder && this.inverse.kind === "identity") {
      reconCanvas.width = this.decoder.width; reconCanvas.height = this.decoder.height;
      const pixels = this.decoder.decode(this.inverse.toLatent(this.points.x[hit], this.points.y[hit]));
      paintImage(reconCanvas.getContext("2d"), pixels, this.decoder.width, this.decoder.height);
      hasRecon = true;
    }
    original.style.display = hasOriginal ? "" : "none";  // nothing to show: no empty square
    recon.style.display = hasRecon ? "" : "none";
    original.querySelector("figcaption").textContent = this.texts.original || "";
    recon.querySelector("figcaption").textContent = this.texts.reconstruction || "";
    this.tooltip.style.display = "flex";
    this.placeTooltip(sx, sy);
  }

  // Beside the pointer, on whichever side keeps it inside the map.
  placeTooltip(sx, sy) {
    const dpr = window.devicePixelRatio || 1;
    const x = sx / dpr, y = sy / dpr, gap = 12;
    const { offsetWidth: tw, offsetHeight: th } = this.tooltip;
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    const left = x + gap + tw <= w ? x + gap : Math.max(0, x - gap - tw);
    const top = y + gap + th <= h ? y + gap : Math.max(0, y - gap - th);
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${top}px`;
  }

  hideTooltip() { this.hovered = -1; this.tooltip.style.display = "none"; }
}

// ---- mounting ------------------------------------------------------------------------------
// The map element's own module (latent_map_mount.js) calls this once the module carrying this
// code (the map's data element, latent_map_data.js) has run: see latent_map.py.

function mountMap(component) {
  const { data, setStateValue, parentElement } = component;
  parentElement.__aelabMap ||= new LatentMap(parentElement);
  parentElement.__aelabMap.receive(data, setStateValue);
  return () => {
    // Streamlit calls this when the component unmounts or before re-running this function
    // with new data; keep the instance for the next call, tear it down only when detached.
    queueMicrotask(() => {
      if (!parentElement.isConnected && parentElement.__aelabMap) {
        parentElement.__aelabMap.destroy();
        parentElement.__aelabMap = null;
      }
    });
  };
}
