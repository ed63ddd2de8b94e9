// Offline thumbnails of each dataset generator: a few hundred points drawn client-side from a
// rough imitation of the server's generator (only the picture matters, not the exact data).

import { classCss } from './colors.js';

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function gauss(r) {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

const GEN = {
  circle(r, i) {
    const k = i % 2;
    const rad = k ? 0.3 * Math.sqrt(r()) : 0.6 + 0.35 * r();
    const a = r() * 2 * Math.PI;
    return [rad * Math.cos(a), rad * Math.sin(a), k];
  },
  xor(r) {
    const x = r() * 2 - 1, y = r() * 2 - 1;
    return [x, y, x * y > 0 ? 1 : 0];
  },
  gaussian(r, i) {
    const k = i % 2;
    const c = k ? 0.45 : -0.45;
    return [c + gauss(r) * 0.18, c + gauss(r) * 0.18, k];
  },
  spiral(r, i) {
    const k = i % 2;
    const t = r();
    const a = t * 3 * Math.PI + k * Math.PI;
    const rad = 0.05 + 0.9 * t;
    return [rad * Math.cos(a) + gauss(r) * 0.02, rad * Math.sin(a) + gauss(r) * 0.02, k];
  },
  moons(r, i) {
    const k = i % 2;
    const a = r() * Math.PI;
    const x = k ? 1 - Math.cos(a) : Math.cos(a);
    const y = k ? 0.5 - Math.sin(a) : Math.sin(a);
    return [(x - 0.5) * 0.6 + gauss(r) * 0.04, (y - 0.25) * 0.9 + gauss(r) * 0.04, k];
  },
  checkerboard(r) {
    const x = r() * 2 - 1, y = r() * 2 - 1;
    return [x, y, (Math.floor((x + 1) * 2) + Math.floor((y + 1) * 2)) % 2];
  },
  stripes(r) {
    const x = r() * 2 - 1, y = r() * 2 - 1;
    return [x, y, Math.floor((x + y + 2) * 1.5) % 2];
  },
  plane(r) {
    const x = r() * 2 - 1, y = r() * 2 - 1;
    return [x, y, x + y > 0 ? 1 : 0];
  },
  multi_gaussian(r, i) {
    const c = [[-0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 1], [0.5, -0.5, 1]][i % 4];
    return [c[0] + gauss(r) * 0.15, c[1] + gauss(r) * 0.15, c[2]];
  },
};

/** Draw the sketch of dataset `name` into `canvas` (CSS size is up to the page). */
export function drawSketch(canvas, name) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height;
  ctx.fillStyle = '#f7f7f4';
  ctx.fillRect(0, 0, W, H);
  const gen = GEN[name];
  if (!gen) {
    ctx.fillStyle = '#888';
    ctx.font = `${Math.round(H / 3)}px sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('?', W / 2, H / 2);
    return;
  }
  const r = rng(7);
  const rad = Math.max(1.2, W / 40);
  for (let i = 0; i < 240; i++) {
    const [x, y, k] = gen(r, i);
    ctx.fillStyle = classCss(k);
    ctx.beginPath();
    ctx.arc(((x + 1) / 2) * W, ((1 - y) / 2) * H, rad, 0, Math.PI * 2);
    ctx.fill();
  }
}
