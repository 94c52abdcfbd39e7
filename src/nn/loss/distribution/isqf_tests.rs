//! Tests of ISQF: NeuralForecast 3.3's loss, gradient and quantile function on fixed inputs
//! (bench/isqf_reference.py), finite differences with the target in every tail and piece, the sampler's empirical
//! quantiles against the quantile function, and the options.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::nn::loss::distribution::tests::assert_raw_gradient;
use crate::nn::loss::distribution::Distribution;
use crate::nn::loss::distribution_loss::empirical_quantile;
use crate::nn::loss::{DistributionLoss, Loss, LossTargets};

/// bench/isqf_reference.py's batch: two windows of two steps, their scaler statistics, the targets in the
/// scaler's space and the mask.
const SCALES: [(f64, f64); 2] = [(1.0, 0.5), (-2.0, 4.0)];
const Z: [f32; 4] = [-1.0, 0.6, 1.3, 3.0];
const MASK: [f32; 4] = [1.0, 0.0, 1.0, 1.0];
const ALPHAS: [f64; 9] = [0.01, 0.07, 0.1, 0.3, 0.5, 0.77, 0.9, 0.95, 0.999];

/// The script's raw outputs: `0.8 sin(1.3 i + 0.4)` rounded to 1/1024 (exact in f32 and in float64 alike).
fn reference_raw(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((0.8 * (1.3 * i as f64 + 0.4).sin() * 1024.0 + 0.5).floor() / 1024.0) as f32).collect()
}

fn isqf_of(loss: &DistributionLoss) -> &Isqf {
    match &loss.distribution {
        Distribution::Isqf(isqf) => isqf,
        other => panic!("not ISQF: {other:?}"),
    }
}

fn close(actual: f64, expected: f64, tol: f64) -> bool {
    (actual - expected).abs() <= tol * (1.0 + expected.abs())
}

/// The loss (masked mean of the points' losses), its gradient and the quantile function at point 3 against
/// NeuralForecast's, in f64; and through the `Loss` interface (f32 outputs) to f32 precision.
fn assert_equals_neuralforecast(loss: DistributionLoss, expected_loss: f64, expected_grad: &[f64], expected_quantiles: &[f64]) {
    let n = loss.distribution.param_count();
    assert_eq!(expected_grad.len(), 4 * n);
    let raw = reference_raw(4 * n);
    let observed = MASK.iter().sum::<f32>() as f64;
    let (mut value, mut grad) = (0.0, vec![0.0; 4 * n]);
    for point in 0..4 {
        let (loc, scale) = SCALES[point / 2];
        let y = loc + scale * Z[point] as f64;
        let mut point_grad = vec![0.0; n];
        let nll = loss.distribution.nll_and_grad(&raw[point * n..(point + 1) * n], loc, scale, y, &mut point_grad);
        if MASK[point] == 1.0 {
            value += nll / observed;
            grad[point * n..(point + 1) * n].iter_mut().zip(&point_grad).for_each(|(g, d)| *g = d / observed);
        }
    }
    assert!(close(value, expected_loss, 1e-12), "loss {value} vs NeuralForecast {expected_loss}");
    for (j, (g, e)) in grad.iter().zip(expected_grad).enumerate() {
        assert!((g - e).abs() <= 1e-11 * (1.0 + e.abs()), "d loss / d raw[{j}]: {g} vs NeuralForecast {e}");
    }
    let mut params = vec![0.0; n];
    let (loc, scale) = SCALES[1];
    loss.distribution.params(&raw[3 * n..4 * n], loc, scale, &mut params);
    for (&alpha, &e) in ALPHAS.iter().zip(expected_quantiles) {
        let q = isqf_of(&loss).quantile(&params, alpha);
        assert!(close(q, e, 1e-12), "quantile({alpha}) = {q} vs NeuralForecast {e}");
    }
    let targets = LossTargets { window_scales: &SCALES, mask: Some(&MASK), windows: 2, ..LossTargets::without_insample(&Z, None) };
    let mut f32_grad = vec![0.0; 4 * n];
    let f32_value = Loss::Distribution(loss).value_and_grad(&raw, &targets, &mut f32_grad).unwrap();
    assert!(close(f32_value as f64, expected_loss, 1e-6), "{f32_value} vs {expected_loss}");
    for (g, e) in f32_grad.iter().zip(expected_grad) {
        assert!((*g as f64 - e).abs() <= 1e-6 * (1.0 + e.abs()), "{g} vs {e}");
    }
}

#[test]
fn loss_gradient_and_quantiles_equal_neuralforecast_with_three_quantiles_and_three_pieces() {
    let loss = DistributionLoss::with_quantiles(Distribution::isqf(3).unwrap(), vec![0.1, 0.5, 0.9], 1000, false).unwrap();
    assert_eq!(loss.distribution.param_count(), 17);
    assert_equals_neuralforecast(loss, REFERENCE_3_3.0, &REFERENCE_3_3.1, &REFERENCE_3_3.2);
}

#[test]
fn loss_gradient_and_quantiles_equal_neuralforecast_at_the_defaults() {
    let loss = DistributionLoss::with_levels(Distribution::isqf(5).unwrap(), &[80.0, 90.0], 1000, false).unwrap();
    assert_eq!(loss.distribution.param_count(), 47);
    assert_equals_neuralforecast(loss, REFERENCE_DEFAULT.0, &REFERENCE_DEFAULT.1, &REFERENCE_DEFAULT.2);
}

/// Targets (data space) in the middle of each tail and of every piece, where the loss is smooth in the outputs.
fn targets_everywhere(isqf: &Isqf, params: &[f64]) -> Vec<f64> {
    let q = isqf.knots.len();
    let mut levels = vec![0.5 * isqf.knots[0], 0.5 * (1.0 + isqf.knots[q - 1]), 0.01, 0.995];
    for interval in 0..isqf.intervals() {
        levels.extend(isqf.pieces(params, interval).map(|piece| piece.x + 0.5 * piece.dx));
    }
    levels.iter().map(|&alpha| isqf.quantile(params, alpha)).collect()
}

fn isqfs() -> Vec<Isqf> {
    vec![
        Isqf::new(3).unwrap().with_knots(&[0.1, 0.5, 0.9]).unwrap(),
        Isqf::new(1).unwrap().with_knots(&[0.2, 0.7]).unwrap(),
        Isqf::new(5).unwrap().with_knots(&[0.05, 0.1, 0.5, 0.9, 0.95]).unwrap(),
        Isqf::new(4).unwrap().with_knots(&[0.5]).unwrap(),
    ]
}

/// d loss / d raw against central differences (steps of 1e-3 on the f32 outputs, taken as the values they land
/// on), with the target in each tail and each piece, under a scaler other than the identity.
#[test]
fn gradients_match_finite_differences_everywhere() {
    let (loc, scale) = (1.5, 2.0);
    for isqf in isqfs() {
        let n = isqf.param_count();
        for seed in 0..2 {
            let raw: Vec<f32> = (0..n).map(|i| 0.9 * ((i + 7 * seed) as f32 * 2.1 + 0.3).sin()).collect();
            let mut params = vec![0.0; n];
            isqf.params(&raw, loc, scale, &mut params);
            for y in targets_everywhere(&isqf, &params) {
                let context = format!("{isqf:?} y {y}");
                assert_raw_gradient(&raw, 2e-6, &context, |raw, grad| isqf.nll_and_grad(raw, loc, scale, y, grad));
            }
        }
    }
}

/// The empirical quantiles of 10^5 seeded draws lie where the quantile function puts them: the empirical
/// `alpha` quantile between q(alpha -+ 5 standard errors of a proportion). And the draws' mean is the
/// quantile function's integral.
#[test]
fn draws_follow_the_quantile_function() {
    const N: usize = 100_000;
    for isqf in isqfs() {
        let n = isqf.param_count();
        let raw: Vec<f32> = (0..n).map(|i| 0.7 * (i as f32 * 1.7 + 0.2).cos()).collect();
        let mut params = vec![0.0; n];
        isqf.params(&raw, 3.0, 2.0, &mut params);
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mut draws: Vec<f64> = (0..N).map(|_| isqf.sample(&params, &mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / N as f64;
        let se = (isqf.variance(&params) / N as f64).sqrt();
        assert!((mean - isqf.mean(&params)).abs() < 5.0 * se, "{isqf:?}: mean {mean} vs {}", isqf.mean(&params));
        draws.sort_by(f64::total_cmp);
        for alpha in [0.003, 0.02, 0.1, 0.25, 0.4, 0.5, 0.62, 0.8, 0.9, 0.97, 0.998] {
            let spread = 5.0 * (alpha * (1.0 - alpha) / N as f64).sqrt();
            let empirical = empirical_quantile(&draws, alpha);
            let (low, high) = (isqf.quantile(&params, alpha - spread), isqf.quantile(&params, alpha + spread));
            assert!(low <= empirical && empirical <= high, "{isqf:?} alpha {alpha}: {empirical} outside [{low}, {high}]");
        }
    }
}

/// The quantile function rises through the knots: at each knot's level it is the knot's height, and it is
/// continuous there (the tails and the pieces meet).
#[test]
fn the_quantile_function_passes_through_the_knots() {
    for isqf in isqfs() {
        let n = isqf.param_count();
        let raw: Vec<f32> = (0..n).map(|i| 0.6 * (i as f32 * 0.9 - 0.4).sin()).collect();
        let mut params = vec![0.0; n];
        isqf.params(&raw, -1.0, 3.0, &mut params);
        for (i, &x) in isqf.knots.iter().enumerate() {
            let height = params[isqf.knots_at() + i];
            assert!(close(isqf.quantile(&params, x), height, 1e-12), "{isqf:?} knot {i}");
            assert!(close(isqf.quantile(&params, x - 1e-9), height, 1e-7), "{isqf:?} below knot {i}");
        }
        let levels: Vec<f64> = (1..1000).map(|i| i as f64 / 1000.0).collect();
        assert!(levels.windows(2).all(|w| isqf.quantile(&params, w[0]) < isqf.quantile(&params, w[1])), "{isqf:?} is not increasing");
    }
}

#[test]
fn options_are_checked_and_columns_follow_neuralforecast() {
    for pieces in [0, MAX_PIECES + 1] {
        assert!(Distribution::isqf(pieces).unwrap_err().to_string().contains("numPieces"));
    }
    let isqf = || Distribution::isqf(5).unwrap();
    let repeated = DistributionLoss::with_quantiles(isqf(), vec![0.1, 0.5, 0.1], 10, false).unwrap_err().to_string();
    assert!(repeated.contains("quantiles") && repeated.contains("distinct"), "{repeated}");
    let params = DistributionLoss::with_levels(isqf(), &[80.0], 10, true).unwrap_err().to_string();
    assert!(params.contains("ISQF does not support returnParams"), "{params}");
    let loss = DistributionLoss::with_levels(isqf(), &[80.0, 90.0], 10, false).unwrap();
    assert_eq!(loss.output_names(), ["", "-median", "-lo-90", "-lo-80", "-hi-80", "-hi-90"]);
    // The knots are the quantiles sorted, whatever their column order.
    assert_eq!(isqf_of(&loss).knots, [0.05f32, 0.1, 0.5, 0.9, 0.95].map(f64::from));
    let names = loss.distribution.param_names();
    assert_eq!(names.len(), 47);
    assert_eq!((names[0].as_str(), names[20].as_str(), names[40].as_str(), names[42].as_str()), ("-spline_knot_1", "-spline_height_1", "-beta_l", "-quantile_knot_1"));
}

/// bench/isqf_reference.py's output: (loss, gradient w.r.t. the raw outputs of the 4 points, point 3's quantile
/// function at [`ALPHAS`] in data space), with quantiles [0.1, 0.5, 0.9] and 3 pieces.
#[rustfmt::skip]
const REFERENCE_3_3: (f64, [f64; 68], [f64; 9]) = (
    2.3327570843974534,
    [
        -0.0189809418525452, 0.00790045265839271, 0.011080489194152499, -0.00685452374149943, -0.0028490048469338083, 0.009703528588433243,
        0.020631910338338267, -0.009280049420892722, -0.011351860917445547, 0.00427705913586229, 0.0034509081748473574, -0.00772796731070965,
        0.003933365206830391, -0.003047901459540333, 0.23708214342625453, 0.10751736348914455, 0.02013611678564568, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, -0.0,
        -0.0, 0.0, 0.0, 0.0, 0.0, -0.0,
        0.0, 0.0, 0.0, 0.0, 0.004559065806938703, -0.0013465817713383278,
        -0.003212484035600378, -0.0022321498795160074, -0.00251040403003054, 0.004742553909546547, -0.0059385149336645465, 0.0018514382964727742,
        0.004087076637191773, 0.0011799309994445578, 0.002913549020810772, -0.0040934800202553304, -0.0014090343678080253, -0.0020527485626578327,
        -0.024022030285933534, -0.006811453658248851, 0.013064080392085299, 0.0026425100866192433, 0.0011943639168962175, -0.003836874003515462,
        0.009749986098430691, -0.00453135920982044, -0.005218626888610247, -0.001277493988235777, -0.0018097988297470662, 0.003087292817982843,
        -0.013005452002277887, 0.00283859016699996, 0.010166861835277922, -0.0010291815197309554, 0.021606861877452366, -0.29853688424289515,
        -0.08301279431122845, -0.056044957557526996,
    ],
    [
        -11.922451117121108, -3.7449805246099785, -2.246093812620467, -1.5216463912284754, -0.742788879901763, 0.5167858720223601,
        1.3772877056933392, 3.8130197040402702, 17.559940819542987,
    ],
);

/// The same at NeuralForecast's defaults: level [80, 90] (knots 0.05, 0.1, 0.5, 0.9, 0.95) and 5 pieces.
#[rustfmt::skip]
const REFERENCE_DEFAULT: (f64, [f64; 188], [f64; 9]) = (
    2.0263241135581556,
    [
        -0.001182932604773645, -0.00013946242946439468, 0.00044083092035510557, 0.0002982498448485563, 0.0005833142690343783, -0.014650941414453403,
        0.000538176725562417, 0.004176461378779319, 0.0029738432054982715, 0.00696246010461339, -0.006308066116792887, 0.0009672291275149797,
        0.0014356702081064908, 0.001096452420486388, 0.00280871436068503, -9.63677020540991e-05, 4.274561665853314e-06, 1.4580909057371779e-05,
        1.627490359425676e-05, 6.123732773661719e-05, 0.0019365577921524116, 0.00019440375696918506, -0.0003449632146216222, -0.0004509741557674951,
        -0.0013350241787324782, 0.02282196009092866, 0.0007517507011501719, -0.003325944096247425, -0.004883617292261008, -0.015364149403570395,
        0.00922654497822114, -0.00017166251417139678, -0.0011682922803163203, -0.001918610661998365, -0.005967979521735056, 0.00014103214250308222,
        5.208750616724382e-06, -1.278939028272194e-05, -2.9222618160575173e-05, -0.00010422888467650952, 0.00011918440091446707, -0.00042975061083654954,
        0.24389695301188602, 0.10256042516433636, 0.08931327820340124, 0.016976614011667255, 0.0005855420803536456, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, -0.0, -0.0, -0.0, -0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, -0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, -0.00031730498168891936, -0.00016237868596603134,
        -0.00027432017747835107, -0.0004073200208978843, 0.0011613238660311872, -0.004346628165565435, -0.001966473404012869, -0.001849483478736188,
        0.002127791246319938, 0.006034793801994555, -0.0016048539239223614, -0.0008395121312172422, -0.0007366060585419826, 0.001253789511955566,
        0.00192718260172602, -7.959955717798528e-05, -5.1149451254375596e-05, -4.7493556986121146e-05, 7.828211766945821e-05, 9.996044774902376e-05,
        0.00012040903204950725, 0.00013601021136654584, 0.00037783912114904586, 0.00028834778161691707, -0.0009226061461820184, 0.0019032310616093134,
        0.0016263557639031934, 0.0023135558316002857, -0.002198916257164385, -0.0036442263999484008, 0.0007406044202466266, 0.0007551175975076519,
        0.000840929025414756, -0.0011862448433957473, -0.0011504061997732885, 3.968943318601861e-05, 5.123385065955892e-05, 5.002958776604088e-05,
        -7.373753837949217e-05, -6.72153332321261e-05, -0.0005999489204179015, -0.0002902611877897917, 0.18602672400131698, 0.11234970894289487,
        0.0432875391622825, 0.008608562817389637, 0.0007622455559453495, 0.00018867472555834767, 3.790671567741303e-05, -1.427389838608927e-06,
        -2.4587679708578023e-05, -0.00020056637168857372, 0.006780656259428736, 0.0018805811133013205, 0.0003284553119809098, -0.0006554663173803061,
        -0.008334226367330664, 0.008636387415016208, 0.00212899968369695, 0.0004949923420328922, -0.0008254491855162909, -0.010434930255229766,
        0.0009164285440772503, 0.00022162244274335724, 6.80298545723341e-05, -9.086717872953884e-05, -0.0011152136626634025, -0.00022395867976459147,
        -2.9833832095308147e-05, 2.9618778758187356e-06, 3.71869431351716e-05, 0.00021364369084890924, -0.006522526061691345, -0.001191619013996481,
        -0.00027908874538892835, 0.0006734573279499413, 0.007319776493126809, -0.0071644470556864485, -0.0012671821154935513, -0.00047117109361002803,
        0.0006702321494117889, 0.008232568115378232, -0.0006532999516998187, -0.00012640210174696463, -7.056669622181505e-05, 5.570359372036104e-05,
        0.0007945651559482372, -0.0003409539756526629, -0.0003989268510171946, -0.2244940186770346, -0.14363408573324835, -0.12797777021722961,
        -0.038994352086001584, -0.0036292330866100476,
    ],
    [
        -13.153340395887863, -2.1527668978624677, 0.7148700287985337, 2.132333568962369, 5.05836812602379, 6.41316928030656,
        7.390010443889022, 8.875057458651149, 50.51156734553797,
    ],
);
