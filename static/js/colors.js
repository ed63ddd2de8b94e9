// Colour palettes and precomputed lookup tables for painting grids fast.
// Two classes use a diverging palette (orange <-> blue through a light neutral, as in
// TensorFlow Playground) so the 50 % line is visible; K classes use a qualitative palette
// whose colours are blended towards the neutral by how unsure the network is.

/** Qualitative palette for up to 8 classes (Okabe-Ito inspired, colour-blind friendly). */
export const CLASS_COLORS = [
  [245, 147, 34],   // orange
  [8, 119, 189],    // blue
  [0, 158, 115],    // green
  [204, 121, 167],  // pink
  [213, 94, 0],     // vermilion
  [86, 180, 233],   // sky
  [150, 110, 60],   // brown
  [110, 90, 200],   // violet
];

/** The neutral colour a prediction fades to when the network is unsure. */
export const NEUTRAL = [244, 244, 240];

export function rgb(c) {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export function classColor(k) {
  return CLASS_COLORS[k % CLASS_COLORS.length];
}

export function classCss(k) {
  return rgb(classColor(k));
}

function mix(a, b, t) {
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
  ];
}

// Little-endian RGBA packed into a Uint32 (ImageData is RGBA bytes; all browsers we target
// are little-endian).
function pack(c, a = 255) {
  return ((a << 24) | (c[2] << 16) | (c[1] << 8) | c[0]) >>> 0;
}

/**
 * Lookup table for kind-1 frames: index (cls * 256 + byteProbability) -> packed RGBA.
 * `discrete` paints the class colour at full strength whatever the confidence.
 */
export function decisionLUT(classes, discrete = false, strength = 0.62) {
  const lut = new Uint32Array(8 * 256);
  for (let k = 0; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const p = b / 255;
      let t;
      if (discrete) {
        t = strength;
      } else if (classes <= 2) {
        // p is in [0.5, 1] for the predicted class: 0.5 -> neutral, 1 -> full colour.
        t = Math.max(0, Math.min(1, (p - 0.5) * 2)) * strength;
      } else {
        const floor = 1 / classes;
        t = Math.max(0, Math.min(1, (p - floor) / (1 - floor))) * strength;
      }
      lut[k * 256 + b] = pack(mix(NEUTRAL, classColor(k), t));
    }
  }
  return lut;
}

/** Diverging palette for a value in [-1, 1] (neuron outputs): orange < 0 < blue. */
export function divergingLUT() {
  const lut = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    const v = (b / 255) * 2 - 1;
    const c = v < 0 ? mix(NEUTRAL, CLASS_COLORS[0], -v) : mix(NEUTRAL, CLASS_COLORS[1], v);
    lut[b] = pack(c);
  }
  return lut;
}

/** Colour of a weight for links: sign gives the hue, magnitude the strength. */
export function weightColor(w, scale) {
  const t = Math.min(1, Math.abs(w) / (scale || 1));
  const c = w < 0 ? CLASS_COLORS[0] : CLASS_COLORS[1];
  return rgb(mix([200, 200, 200], c, 0.25 + 0.75 * t));
}
