//! A dense NCHW `f32` tensor: the one data layout every op here reads and writes.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    /// `[n, c, h, w]`.
    pub shape: [usize; 4],
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn zeros(shape: [usize; 4]) -> Self {
        Tensor {
            shape,
            data: vec![0.0; shape.iter().product()],
        }
    }

    pub fn from_vec(shape: [usize; 4], data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            shape.iter().product::<usize>(),
            "tensor data does not match shape {shape:?}"
        );
        Tensor { shape, data }
    }

    pub fn n(&self) -> usize {
        self.shape[0]
    }
    pub fn c(&self) -> usize {
        self.shape[1]
    }
    pub fn h(&self) -> usize {
        self.shape[2]
    }
    pub fn w(&self) -> usize {
        self.shape[3]
    }

    /// Elements of one image (`c * h * w`).
    pub fn image_len(&self) -> usize {
        self.shape[1] * self.shape[2] * self.shape[3]
    }

    pub fn image(&self, i: usize) -> &[f32] {
        let l = self.image_len();
        &self.data[i * l..(i + 1) * l]
    }

    pub fn image_mut(&mut self, i: usize) -> &mut [f32] {
        let l = self.image_len();
        &mut self.data[i * l..(i + 1) * l]
    }
}
