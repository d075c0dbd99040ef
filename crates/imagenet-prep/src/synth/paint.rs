//! Class-dependent pictures a tiny CNN can learn in minutes: each class has
//! its own colour palette, stripe orientation and period, and foreground
//! shape; every image jitters them and adds mild noise.

use std::f32::consts::PI;

use rand::Rng;

/// Draws one `w × h` RGB image (row-major, 3 bytes per pixel) of `class`.
pub(crate) fn paint(class: usize, w: u32, h: u32, rng: &mut impl Rng) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    // Golden-ratio steps spread hues and angles evenly for any class count.
    let hue = (class as f32 * 0.618_034).fract() + rng.random_range(-0.02..0.02);
    let bg = hsv(hue, 0.55, 0.8);
    let fg = hsv(hue + 0.5, 0.7, 0.45);
    let blob = hsv(hue + 0.25, 0.9, 0.95);
    let angle = (class as f32 * 0.381_966).fract() * PI + rng.random_range(-0.08..0.08);
    let side = w.min(h) as f32;
    let period = side * [0.14, 0.22, 0.34][class % 3] * rng.random_range(0.9..1.1);
    let phase = rng.random_range(0.0..2.0 * PI);
    let (dx, dy) = (angle.cos(), angle.sin());
    let shape = (class / 3) % 3;
    let cx = w as f32 * rng.random_range(0.3..0.7);
    let cy = h as f32 * rng.random_range(0.3..0.7);
    let r = side * rng.random_range(0.15..0.3);
    let light = rng.random_range(0.85..1.15f32);

    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let t = 0.5 + 0.5 * ((fx * dx + fy * dy) / period * 2.0 * PI + phase).sin();
            let mut c = [0f32; 3];
            for k in 0..3 {
                c[k] = bg[k] * (1.0 - t) + fg[k] * t;
            }
            let (ox, oy) = (fx - cx, fy - cy);
            let inside = match shape {
                0 => ox * ox + oy * oy < r * r,
                1 => ox.abs() < r && oy.abs() < r,
                _ => {
                    let d = (ox * ox + oy * oy).sqrt();
                    d < r && d > 0.55 * r
                }
            };
            if inside {
                c = blob;
            }
            for v in c {
                let noisy = v * 255.0 * light + rng.random_range(-10.0..10.0);
                out.push(noisy.clamp(0.0, 255.0) as u8);
            }
        }
    }
    out
}

/// HSV (hue wraps around 1) to RGB on [0, 1].
fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h = h.rem_euclid(1.0) * 6.0;
    let i = h.floor();
    let f = h - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i as u32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}
