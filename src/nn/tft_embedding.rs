//! The per-variable linear embeddings of tft.py's `TFTEmbedding`: continuous variable `f` becomes
//! `x_f * vectors[f] + bias[f]`, a `hidden`-wide vector, for `<name>_vectors` `[F, hidden]` (torch's
//! `xavier_normal_`: std `sqrt(2 / (F + hidden))`) and `<name>_bias` `[F, hidden]` (zeros). TFT keeps one such
//! pair for the static, future, historic and target inputs (`stat_exog_embedding`, `futr_exog_embedding`, ...).

use super::error::{expect_len, nonzero, NnError};
use super::params::{ParamId, ParamInit, ParamStore};

#[derive(Debug, Clone)]
pub struct ContinuousEmbedding {
    vectors: ParamId,
    bias: ParamId,
    features: usize,
    hidden: usize,
}

impl ContinuousEmbedding {
    /// Creates `<name>_vectors` and `<name>_bias` under the builder's prefix.
    pub fn new(init: &mut ParamInit<'_>, name: &str, features: usize, hidden: usize) -> Result<Self, NnError> {
        nonzero("embedded variables", features)?;
        nonzero("embedding size", hidden)?;
        let std = (2.0 / (features + hidden) as f32).sqrt();
        let vectors = init.normal(&format!("{name}_vectors"), &[features, hidden], std)?;
        let bias = init.constant(&format!("{name}_bias"), &[features, hidden], 0.0)?;
        Ok(ContinuousEmbedding { vectors, bias, features, hidden })
    }

    pub fn features(&self) -> usize {
        self.features
    }

    /// Appends the embeddings `[F, hidden]` of one row's `values` `[F]` to `out`.
    pub fn embed_row(&self, params: &ParamStore, values: &[f32], out: &mut Vec<f32>) -> Result<(), NnError> {
        expect_len("embedded values", self.features, values.len())?;
        let (vectors, bias) = (&params.get(self.vectors).data, &params.get(self.bias).data);
        for (f, &x) in values.iter().enumerate() {
            let at = f * self.hidden..(f + 1) * self.hidden;
            out.extend(vectors[at.clone()].iter().zip(&bias[at]).map(|(v, b)| x * v + b));
        }
        Ok(())
    }

    /// Accumulates the parameter gradients of one row: `d_out` `[F, hidden]` is d loss / d its embeddings.
    pub fn backward_row(&self, values: &[f32], d_out: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        expect_len("embedded values", self.features, values.len())?;
        expect_len("embedding gradient", self.features * self.hidden, d_out.len())?;
        let d_vectors = &mut grads.get_mut(self.vectors).data;
        for ((d_v, d), &x) in d_vectors.chunks_exact_mut(self.hidden).zip(d_out.chunks_exact(self.hidden)).zip(values) {
            d_v.iter_mut().zip(d).for_each(|(g, d)| *g += x * d);
        }
        grads.get_mut(self.bias).data.iter_mut().zip(d_out).for_each(|(g, d)| *g += d);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_param_grads, random_vec, seeded_layer, weighted_sum};

    #[test]
    fn embeds_each_variable_and_matches_finite_differences() {
        let (emb, mut params) = seeded_layer(2, "embedding", |init| ContinuousEmbedding::new(init, "futr_exog_embedding", 3, 4));
        let names: Vec<String> = params.iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
        assert_eq!(names, ["embedding.futr_exog_embedding_vectors [3, 4]", "embedding.futr_exog_embedding_bias [3, 4]"]);
        let rows: Vec<Vec<f32>> = (0..5).map(|r| random_vec(3, r)).collect();
        let weights = random_vec(5 * 12, 9);
        // Non-zero biases, so that the check sees their gradient apart from the vectors'.
        params.iter_mut().for_each(|(_, t)| t.data.iter_mut().enumerate().for_each(|(i, v)| *v += 0.1 * i as f32));
        let objective = |params: &ParamStore| {
            let mut out = Vec::new();
            rows.iter().for_each(|row| emb.embed_row(params, row, &mut out).unwrap());
            weighted_sum(&out, &weights)
        };
        let mut out = Vec::new();
        emb.embed_row(&params, &rows[0], &mut out).unwrap();
        let (vectors, bias) = (&params.tensor_at(0).data, &params.tensor_at(1).data);
        assert_eq!(out[5], rows[0][1] * vectors[5] + bias[5]);
        let mut grads = params.zeros_like();
        for (r, row) in rows.iter().enumerate() {
            emb.backward_row(row, &weights[r * 12..(r + 1) * 12], &mut grads).unwrap();
        }
        check_param_grads(&mut params, &grads, usize::MAX, objective);
        assert!(emb.embed_row(&params, &[1.0], &mut out).is_err());
    }
}
