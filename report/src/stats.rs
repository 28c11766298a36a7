//! Repetitions: a figure's median and spread over the runs of a cell, a bootstrap interval for
//! the median, and the seeded shuffle of `lab compare`'s cell order.
//!
//! Everything random here comes from [`SplitMix64`] with a seed fixed by the data (the bootstrap)
//! or printed (the shuffle), so the report stays byte-for-byte reproducible.

use rayon::prelude::*;

/// Bootstrap resamples per interval. 2,000 puts the 2.5% and 97.5% points on 50 resamples each.
const RESAMPLES: usize = 2000;
/// Resamples per rayon task (each task has its own seeded generator, so the split is fixed).
const CHUNK: usize = 250;

/// Sebastiano Vigna's SplitMix64: tiny, fast, and good enough to shuffle and resample.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `0..n` in an order shuffled (Fisher–Yates) by `seed`: `lab compare`'s cell order.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// One figure of a cell over its runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Runs measured.
    pub n: usize,
    /// Bootstrap 95% interval of the median, with 3 runs or more.
    pub ci: Option<(f64, f64)>,
}

impl Spread {
    /// The spread of `values` (in run order); `None` if there are none. `seed` fixes the
    /// bootstrap's resamples (derive it from the cell, so a render is reproducible).
    pub fn of(values: &[f64], seed: u64) -> Option<Spread> {
        let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        Some(Spread {
            median: median(&sorted),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            n: sorted.len(),
            ci: (sorted.len() >= 3).then(|| bootstrap(&values, seed)),
        })
    }

    /// The band readings compare: the 95% interval when there is one, else min–max.
    pub fn band(&self) -> (f64, f64) {
        self.ci.unwrap_or((self.min, self.max))
    }

    /// Do the two results overlap within their run-to-run noise? With one run each there is no
    /// measured noise: then results within `single_run_noise` (a share) of each other overlap.
    pub fn ties(&self, other: &Spread, single_run_noise: f64) -> bool {
        if self.n == 1 && other.n == 1 {
            let (a, b) = (self.median.abs(), other.median.abs());
            return (a - b).abs() <= single_run_noise * a.max(b);
        }
        let (a_lo, a_hi) = self.band();
        let (b_lo, b_hi) = other.band();
        a_lo <= b_hi && b_lo <= a_hi
    }
}

/// The median of `sorted` (ascending, not empty; infinite values count as any other).
pub(crate) fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Percentile bootstrap of the median: resample the runs with replacement, take each resample's
/// median, and return the 2.5% and 97.5% points of those medians. Resamples are drawn in rayon
/// tasks, each with its own generator seeded from `seed` and its index, so the result does not
/// depend on how many threads ran them.
fn bootstrap(values: &[f64], seed: u64) -> (f64, f64) {
    let n = values.len();
    let mut medians: Vec<f64> = (0..RESAMPLES / CHUNK)
        .into_par_iter()
        .flat_map_iter(|task| {
            let mut rng = SplitMix64::new(seed ^ (task as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
            let mut sample = vec![0.0; n];
            (0..CHUNK)
                .map(|_| {
                    for x in sample.iter_mut() {
                        *x = values[rng.below(n)];
                    }
                    sample.sort_by(f64::total_cmp);
                    median(&sample)
                })
                .collect::<Vec<f64>>()
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((medians.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

/// A seed for a cell's bootstrap, from its name: FNV-1a.
pub fn seed_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Jain's fairness index of a share-out, `(Σx)² / (n·Σx²)`: 1 when every worker got the same,
/// `1/n` when one got everything; `NaN` for no workers or nothing shared out.
pub fn jain_index(xs: &[u64]) -> f64 {
    let n = xs.len() as f64;
    let sum: f64 = xs.iter().map(|&x| x as f64).sum();
    let squares: f64 = xs.iter().map(|&x| (x as f64) * (x as f64)).sum();
    if xs.is_empty() || squares == 0.0 {
        return f64::NAN;
    }
    sum * sum / (n * squares)
}

/// The busiest worker's count over the idlest's: 1 when even, infinite when one got none.
pub fn max_min_ratio(xs: &[u64]) -> f64 {
    let (Some(&min), Some(&max)) = (xs.iter().min(), xs.iter().max()) else {
        return f64::NAN;
    };
    if min == 0 {
        return if max == 0 { f64::NAN } else { f64::INFINITY };
    }
    max as f64 / min as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn jains_index_of_known_share_outs() {
        assert_eq!(super::jain_index(&[50, 50, 50, 50]), 1.0);
        // One of n got everything: 1/n.
        assert_eq!(super::jain_index(&[200, 0, 0, 0]), 0.25);
        // Two of four share evenly: k/n.
        assert_eq!(super::jain_index(&[100, 100, 0, 0]), 0.5);
        // (1+2+3+4)² / (4 · 30) = 100 / 120.
        assert!((super::jain_index(&[1, 2, 3, 4]) - 100.0 / 120.0).abs() < 1e-12);
        assert!(super::jain_index(&[]).is_nan());
        assert!(super::jain_index(&[0, 0]).is_nan());
    }

    #[test]
    fn max_over_min_of_known_share_outs() {
        assert_eq!(super::max_min_ratio(&[50, 50, 50]), 1.0);
        assert_eq!(super::max_min_ratio(&[40, 60, 80]), 2.0);
        assert!(super::max_min_ratio(&[0, 10]).is_infinite());
        assert!(super::max_min_ratio(&[]).is_nan());
    }

    use super::*;

    #[test]
    fn shuffle_is_a_permutation_fixed_by_its_seed() {
        let a = shuffled(50, 7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, shuffled(50, 7));
        assert_ne!(a, shuffled(50, 8));
    }

    #[test]
    fn spread_and_bootstrap_are_reproducible() {
        let v = [100.0, 104.0, 98.0, 101.0, 99.0];
        let s = Spread::of(&v, 1).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (100.0, 98.0, 104.0, 5));
        let (lo, hi) = s.ci.unwrap();
        assert!(
            lo >= 98.0 && hi <= 104.0 && lo <= 100.0 && hi >= 100.0,
            "{lo} {hi}"
        );
        assert_eq!(Spread::of(&v, 1), Spread::of(&v, 1));
        assert!(Spread::of(&[1.0, 2.0], 1).unwrap().ci.is_none());
        assert!(Spread::of(&[], 1).is_none());
    }

    #[test]
    fn ties_within_noise() {
        let a = Spread::of(&[100.0, 102.0, 98.0], 1).unwrap();
        let b = Spread::of(&[101.0, 103.0, 99.0], 2).unwrap();
        let c = Spread::of(&[200.0, 202.0, 198.0], 3).unwrap();
        assert!(a.ties(&b, 0.05));
        assert!(!a.ties(&c, 0.05));
        let one = |v| Spread::of(&[v], 0).unwrap();
        assert!(one(98_914.0).ties(&one(97_478.0), 0.05));
        assert!(!one(100.0).ties(&one(150.0), 0.05));
    }
}
