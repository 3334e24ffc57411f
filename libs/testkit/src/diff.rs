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

/// How two 8-bit outputs of the same input differ: (samples that differ, largest difference).
pub fn disagreement_u8(a: &[u8], b: &[u8]) -> (usize, u8) {
    assert_eq!(a.len(), b.len(), "outputs of different sizes");
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .filter(|&d| d > 0)
        .fold((0, 0), |(n, worst), d| (n + 1, worst.max(d)))
}

/// Asserts that two backends' outputs agree: no sample apart by more than `max_diff`, at most
/// `per_mille` of them apart at all. Prints the numbers so a passing run still shows them.
pub fn assert_backends_agree(what: &str, a: &[u8], b: &[u8], max_diff: u8, per_mille: usize) {
    let (off, worst) = disagreement_u8(a, b);
    println!(
        "{what}: {off} of {} samples differ, by up to {worst}",
        a.len()
    );
    assert!(
        worst <= max_diff && off * 1000 <= a.len() * per_mille,
        "{what}: {off} samples differ, by up to {worst}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreement_counts_and_bounds_the_differences() {
        assert_eq!(disagreement_u8(&[1, 2, 3, 4], &[1, 2, 3, 4]), (0, 0));
        assert_eq!(disagreement_u8(&[1, 2, 3, 4], &[0, 2, 6, 4]), (2, 3));
    }

    #[test]
    #[should_panic(expected = "differ, by up to 2")]
    fn backends_that_differ_by_more_than_allowed_fail() {
        assert_backends_agree(
            "t",
            &[10; 2000],
            &[[10; 1999].as_slice(), &[12]].concat(),
            1,
            1,
        );
    }
}
