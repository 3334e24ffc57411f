//! How far apart two pictures are, for tests that check a picture rather than a metric: the
//! metrics crate is what is under test elsewhere, so its PSNR is not used to judge outputs.

/// Mean squared difference of two 8-bit sample runs (over `a`'s length, pairs zipped).
pub fn mse_u8(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64
}
