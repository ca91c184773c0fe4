// aelab latent map, part 1: decoding in the browser, with no UI.
//
// The payload's arrays arrive as base64 float32. MlpDecoder runs the model's decoder
// exactly as torch does (Linear, ReLU, ..., Linear, sigmoid); Inverse turns a map
// position into a latent code (identity, PCA's linear inverse, or a UMAP grid).
// aelab/app/components/latent_map.py joins this file, latent_map.js and latent_map_data.js into one module.

export function b64ToFloat32(text) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

// An MLP decoder: Linear, ReLU, ..., Linear, sigmoid; weights row-major (out, in) as in torch.
export class MlpDecoder {
  constructor(spec) {
    this.layers = spec.layers.map((l) => ({
      w: b64ToFloat32(l.w), b: b64ToFloat32(l.b), nIn: l.in, nOut: l.out,
    }));
    [this.height, this.width] = spec.image;
    this.latentDim = this.layers[0].nIn;
    const widest = Math.max(...this.layers.map((l) => l.nOut));
    this.bufs = [new Float32Array(widest), new Float32Array(widest)];
  }

  // z: Float32Array(latentDim) -> out: Float32Array(height * width) with pixels in [0, 1]
  decode(z, out = new Float32Array(this.height * this.width)) {
    let x = z;
    const last = this.layers.length - 1;
    this.layers.forEach(({ w, b, nIn, nOut }, li) => {
      const y = li === last ? out : this.bufs[li % 2];
      for (let o = 0; o < nOut; o++) {
        let s = b[o];
        const row = o * nIn;
        for (let i = 0; i < nIn; i++) s += w[row + i] * x[i];
        y[o] = li === last ? 1 / (1 + Math.exp(-s)) : (s > 0 ? s : 0);
      }
      x = y;
    });
    return out;
  }
}

// Map coordinates -> latent code: identity (2-D latents), linear (PCA), or a grid (UMAP).
export class Inverse {
  constructor(spec, latentDim) {
    this.kind = spec.kind;
    this.dim = latentDim;
    if (spec.kind === "linear") {
      this.mean = b64ToFloat32(spec.mean);
      this.components = b64ToFloat32(spec.components);  // (2, D)
    } else if (spec.kind === "grid") {
      this.grid = b64ToFloat32(spec.grid);  // (R, R, D), row = y index
      this.res = spec.resolution;
      this.xRange = spec.x_range;
      this.yRange = spec.y_range;
    }
  }

  toLatent(px, py, out = new Float32Array(this.dim)) {
    const D = this.dim;
    if (this.kind === "identity") {
      out[0] = px; out[1] = py;
    } else if (this.kind === "linear") {
      for (let j = 0; j < D; j++) out[j] = this.mean[j] + px * this.components[j] + py * this.components[D + j];
    } else {
      const R = this.res;
      const fx = clamp((px - this.xRange[0]) / (this.xRange[1] - this.xRange[0]), 0, 1) * (R - 1);
      const fy = clamp((py - this.yRange[0]) / (this.yRange[1] - this.yRange[0]), 0, 1) * (R - 1);
      const c0 = Math.min(Math.floor(fx), R - 2), r0 = Math.min(Math.floor(fy), R - 2);
      const tx = fx - c0, ty = fy - r0;
      const at = (r, c, j) => this.grid[(r * R + c) * D + j];
      for (let j = 0; j < D; j++) {
        const top = at(r0, c0, j) * (1 - tx) + at(r0, c0 + 1, j) * tx;
        const bottom = at(r0 + 1, c0, j) * (1 - tx) + at(r0 + 1, c0 + 1, j) * tx;
        out[j] = top * (1 - ty) + bottom * ty;
      }
    }
    return out;
  }
}

function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

// A "nice" tick step (1, 2 or 5 times a power of ten) for about `count` ticks over `span`.
export function niceStep(span, count = 6) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return power * (unit < 1.5 ? 1 : unit < 3.5 ? 2 : unit < 7.5 ? 5 : 10);
}
