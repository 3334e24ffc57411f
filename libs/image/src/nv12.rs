//! NV12's chroma: one plane of interleaved U, V pairs. The resamplers and metrics take one
//! component per plane, so the elements split it into two packed planes and merge it back.

/// Splits `h` rows of `w` U, V pairs (rows `stride` bytes apart) into packed `w x h` planes.
pub fn split_uv(uv: &[u8], stride: usize, w: usize, h: usize, u: &mut [u8], v: &mut [u8]) {
    for y in 0..h {
        let row = &uv[y * stride..y * stride + 2 * w];
        let (u, v) = (&mut u[y * w..(y + 1) * w], &mut v[y * w..(y + 1) * w]);
        for ((px, u), v) in row.chunks_exact(2).zip(u).zip(v) {
            *u = px[0];
            *v = px[1];
        }
    }
}

/// Interleaves packed `w x h` U and V planes into rows of U, V pairs `stride` bytes apart.
pub fn merge_uv(u: &[u8], v: &[u8], w: usize, h: usize, uv: &mut [u8], stride: usize) {
    for y in 0..h {
        let row = &mut uv[y * stride..y * stride + 2 * w];
        let (u, v) = (&u[y * w..(y + 1) * w], &v[y * w..(y + 1) * w]);
        for ((px, &u), &v) in row.chunks_exact_mut(2).zip(u).zip(v) {
            px[0] = u;
            px[1] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_merge_keeps_the_padding_untouched() {
        // 3x2 pairs, rows 8 bytes apart (2 bytes of padding).
        let uv: Vec<u8> = (0..16).collect();
        let (mut u, mut v) = ([0u8; 6], [0u8; 6]);
        split_uv(&uv, 8, 3, 2, &mut u, &mut v);
        assert_eq!(u, [0, 2, 4, 8, 10, 12]);
        assert_eq!(v, [1, 3, 5, 9, 11, 13]);
        let mut out = vec![0xffu8; 16];
        merge_uv(&u, &v, 3, 2, &mut out, 8);
        for y in 0..2 {
            assert_eq!(out[y * 8..y * 8 + 6], uv[y * 8..y * 8 + 6]);
            assert_eq!(out[y * 8 + 6..y * 8 + 8], [0xff, 0xff]);
        }
    }
}
