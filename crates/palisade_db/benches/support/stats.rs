//! The statistics the benchmarks print: the median of the rounds' own ratios, their range, and a
//! distribution-free 95% confidence interval of that median. Shared by `tenant_tx` and the HTTP
//! benchmark (`crates/palisade_server/benches/http.rs` includes this file by its path; it sits in a
//! subdirectory so that cargo does not take it for a benchmark of its own).
//!
//! On two shared cores one round's ratio moves by ±10 to 30%, sometimes more, so a median of 5 or
//! 7 rounds can land on either side of a target the true ratio clears. The interval says whether
//! a run decides the question: the median's true value lies between the k-th smallest and the
//! k-th largest of n rounds' ratios with probability 1 − 2·P(Binomial(n, ½) < k), whatever the
//! ratios' distribution, provided the rounds are independent. On a shared machine they are so
//! only roughly (the host's load drifts over minutes; the benches rotate or alternate the loads'
//! order so that no load always runs in the same neighbour's wake), so read the interval as the
//! best case. No such interval reaches 95% with fewer than 6 rounds.
//!
//! A figure that pools the rounds instead of taking each one's ratio (the HTTP bench's p99 of all
//! the rounds' reads) gets a bootstrap interval over the rounds instead ([`bootstrap_ci`]).

// Each bench includes the whole file and uses a part of it (`tenant_tx` has no "at most" target).
#![allow(dead_code)]

/// The median (the mean of the two middle values for an even count); `NaN` for no values.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The 95% confidence interval of the median of `v` by order statistics (see the module's
/// documentation), with its exact coverage; `None` below 6 values.
pub fn median_ci(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    let n = v.len();
    v.sort_by(f64::total_cmp);
    // p[j] = P(Binomial(n, 1/2) = j); below[k] = P(B < k).
    let mut p = 0.5f64.powi(i32::try_from(n).ok()?);
    let mut below = 0.0;
    let mut best = None;
    for k in 1..=n / 2 {
        below += p;
        let coverage = 1.0 - 2.0 * below;
        if coverage < 0.95 {
            break;
        }
        best = Some((v[k - 1], v[n - k], coverage));
        p = p * (n - (k - 1)) as f64 / k as f64;
    }
    best
}

/// `median [min-max]`: `0.97 [0.80-1.10]`.
pub fn spread(v: Vec<f64>) -> String {
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    format!("{:.2} [{lo:.2}-{hi:.2}]", median(v))
}

/// [`spread`], then the 95% interval of the median when there are enough values:
/// `0.97 [0.80-1.10] (95%: 0.93-0.99)`.
pub fn summary(v: Vec<f64>) -> String {
    match median_ci(v.clone()) {
        Some((l, h, _)) => format!("{} (95%: {l:.2}-{h:.2})", spread(v)),
        None => spread(v),
    }
}

/// What a run says of `ratio ≥ target`: decided only when the whole interval lies on one side.
pub fn verdict(v: Vec<f64>, target: f64) -> &'static str {
    decide(median_ci(v), |(lo, hi)| {
        if lo >= target {
            Some(true)
        } else if hi < target {
            Some(false)
        } else {
            None
        }
    })
}

/// What a run says of `ratio ≤ target`, like [`verdict`].
pub fn verdict_at_most(v: Vec<f64>, target: f64) -> &'static str {
    interval_at_most(median_ci(v), target)
}

/// What an interval `(low, high, _)` says of `value ≤ target`: met when all of it is at most the
/// target, not met when all of it is above, undecided otherwise or when there is none.
pub fn interval_at_most(ci: Option<(f64, f64, f64)>, target: f64) -> &'static str {
    decide(ci, |(lo, hi)| {
        if hi <= target {
            Some(true)
        } else if lo > target {
            Some(false)
        } else {
            None
        }
    })
}

/// A 95% percentile-bootstrap interval `(low, high, 0.95)` of a statistic of `n` rounds:
/// `stat` gets the indices of a resample of the rounds (drawn with replacement, as many as there
/// are rounds; a paired statistic uses the same indices on both sides), and the interval runs
/// from the 2.5th to the 97.5th percentile of its values over 2,000 resamples. For a statistic
/// that pools the rounds (a p99 of all their requests) instead of taking each round's ratio,
/// where [`median_ci`] does not apply. Approximate, and it assumes independent rounds like
/// [`median_ci`]; `None` below 6 rounds or when `stat` has no value for some resample.
pub fn bootstrap_ci(n: usize, stat: impl Fn(&[usize]) -> Option<f64>) -> Option<(f64, f64, f64)> {
    const RESAMPLES: usize = 2_000;
    if n < 6 {
        return None;
    }
    // A fixed seed: the same rounds give the same interval.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut values = Vec::with_capacity(RESAMPLES);
    let mut indices = vec![0; n];
    for _ in 0..RESAMPLES {
        for i in &mut indices {
            *i = (rng.next() % n as u64) as usize;
        }
        values.push(stat(&indices)?);
    }
    values.sort_by(f64::total_cmp);
    let at = |p: f64| values[((RESAMPLES - 1) as f64 * p).round() as usize];
    Some((at(0.025), at(0.975), 0.95))
}

/// xorshift64*: deterministic pseudo-random numbers, no dependency needed (`tenant_tx`'s spread
/// of organizations, [`bootstrap_ci`]'s resamples).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn decide(ci: Option<(f64, f64, f64)>, met: impl Fn((f64, f64)) -> Option<bool>) -> &'static str {
    match ci.map(|(lo, hi, _)| met((lo, hi))) {
        Some(Some(true)) => "met",
        Some(Some(false)) => "not met",
        Some(None) => "undecided (the interval straddles the target: run more rounds)",
        None => "undecided (fewer than 6 rounds)",
    }
}
