//! Display-aspect-ratio arithmetic for scalers that pick an output size, as `videoscale`
//! does: when downstream leaves a size or the pixel aspect ratio (PAR) open, the free value
//! keeps the input's display aspect ratio (DAR). Fractions are `(numerator, denominator)`.

/// The display aspect ratio of a `w x h` picture with pixel aspect ratio `par`, unreduced
/// (kept exact in `u64`).
pub fn dar(w: i32, h: i32, par: (i32, i32)) -> (u64, u64) {
    (w as u64 * par.0 as u64, h as u64 * par.1 as u64)
}

/// The pixel aspect ratio that gives a `w x h` picture the display aspect ratio `dar`.
pub fn par_for_size(dar: (u64, u64), w: i32, h: i32) -> (i32, i32) {
    reduce(dar.0 * h as u64, dar.1 * w as u64)
}

/// The height, rounded, that gives a `w`-wide picture with pixel aspect ratio `par` the
/// display aspect ratio `dar`: `h = w * par / dar`.
pub fn height_for_width(dar: (u64, u64), w: i32, par: (i32, i32)) -> i32 {
    let h = (w as u64 * par.0 as u64 * dar.1) as f64 / (par.1 as u64 * dar.0) as f64;
    h.round() as i32
}

/// The width, rounded, that gives an `h`-high picture with pixel aspect ratio `par` the
/// display aspect ratio `dar`: `w = h * dar / par`.
pub fn width_for_height(dar: (u64, u64), h: i32, par: (i32, i32)) -> i32 {
    let w = (h as u64 * dar.0 * par.1 as u64) as f64 / (dar.1 * par.0 as u64) as f64;
    w.round() as i32
}

/// `n / d` reduced and, when still too large, scaled down into `i32` (a caps fraction); never
/// zero.
pub fn reduce(n: u64, d: u64) -> (i32, i32) {
    let g = gcd(n, d);
    let (mut n, mut d) = (n / g, d / g);
    while n > i32::MAX as u64 || d > i32::MAX as u64 {
        n = n.div_ceil(2);
        d = d.div_ceil(2);
    }
    (n.max(1) as i32, d.max(1) as i32)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_sizes_keep_the_display_aspect_ratio() {
        let d = dar(1920, 1080, (1, 1));
        assert_eq!(height_for_width(d, 640, (1, 1)), 360);
        assert_eq!(width_for_height(d, 360, (1, 1)), 640);
        // Anamorphic: 720x576 at 16:15 is 4:3; square pixels at 480 high are 640 wide.
        let d = dar(720, 576, (16, 15));
        assert_eq!(width_for_height(d, 480, (1, 1)), 640);
        assert_eq!(height_for_width(d, 720, (16, 15)), 576);
    }

    #[test]
    fn par_for_a_fixed_size() {
        let d = dar(1920, 1080, (1, 1));
        assert_eq!(par_for_size(d, 1920, 1080), (1, 1));
        assert_eq!(par_for_size(d, 1440, 1080), (4, 3));
        assert_eq!(par_for_size(d, 640, 480), (4, 3));
    }

    #[test]
    fn reduce_fits_i32_and_never_gives_zero() {
        assert_eq!(reduce(6, 4), (3, 2));
        assert_eq!(reduce(0, 5), (1, 1));
        let (n, d) = reduce(u64::MAX / 3, 7);
        assert!(n > 0 && d > 0);
    }
}
