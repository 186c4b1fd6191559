//! The three algorithms, as pure integer functions of a stored state and the time.
//!
//! The Redis script (`store/script.lua`) is a line-by-line transcription of this module: the same
//! state (three integers per policy and key), the same formulas, the same rounding. Every
//! quantity stays below 2^53 (see [`MAX_LIMIT_TIMES_WINDOW_MS`](crate::MAX_LIMIT_TIMES_WINDOW_MS)),
//! where Lua's doubles are exact, and divisions are exact integer divisions on both sides, so the
//! two stores decide identically; a differential property test holds them to it.
//!
//! Notation: `L` the limit, `W` the window in ms, `now` in ms, `c` the cost of the request.
//!
//! # GCRA (the default)
//! The generic cell rate algorithm, in its continuous-state leaky-bucket form: emission
//! interval `T = W / L`, burst tolerance `τ = W − T` (so `L` requests may come back to back
//! after a quiet period, then one per `T`). To stay exact when `T` is not a whole number of ms,
//! the bucket level is kept scaled by `L`: one unit weighs `W`, the bucket holds `W × L`, and it
//! drains by `L` per ms. State `(t0, level)`; at `now` the level is `max(0, level − (now − t0) × L)`.
//! A request fits if `level + c × W ≤ W × L`; admitting it stores `(now, level + c × W)`, which
//! is the theoretical arrival time `TAT = t0 + level / L` of textbook GCRA. A refusal writes
//! nothing. There are no windows, hence no bursts at window edges.
//!
//! # Sliding window
//! Two buckets, weighted (the method Cloudflare describes): windows are aligned on multiples of
//! `W`, each counts its admitted units, and a request sees the previous window's count weighted
//! by the part of it still inside the sliding window: `prev × (W − e) / W + curr`, `e` the time
//! elapsed in the current window. It fits if `prev × (W − e) + (curr + c) × W ≤ L × W`. Memory is
//! constant per key (a log-based window would keep one entry per request). The estimate assumes
//! the previous window's requests were spread evenly.
//!
//! # Fixed window
//! A window of `W` starting at a key's first request (not at a wall-clock boundary, so keys do not
//! all reset at once); at most `L` units per window, so up to `2 × L` can pass around a window's
//! end. Cheapest and easiest to explain; prefer GCRA unless you need exactly this.

use serde::{Deserialize, Serialize};

use crate::quota::Quota;

/// How a limiter counts: see the [module documentation](crate#algorithms) for the details.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// The generic cell rate algorithm: exact, smooth, a burst of up to `limit` after a quiet
    /// period and then one request per `window / limit`; no window edges. The default.
    #[default]
    Gcra,
    /// Two weighted fixed windows approximating a sliding window.
    SlidingWindow,
    /// A window starting at a key's first request, reset when it ends.
    FixedWindow,
}

impl Algorithm {
    /// The one-letter code the Redis script and the keys use.
    #[cfg(feature = "redis")]
    pub(crate) fn code(self) -> &'static str {
        match self {
            Algorithm::Gcra => "g",
            Algorithm::SlidingWindow => "s",
            Algorithm::FixedWindow => "f",
        }
    }
}

/// The stored state of one policy for one key: three integers, as in Redis (`"a b c"`).
pub(crate) type Cell = [u64; 3];

/// A wait that cannot end: the cost exceeds the limit.
pub(crate) const NEVER: u64 = u64::MAX;

/// A quota in the algorithms' units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub limit: u64,
    pub window: u64,
}

impl From<Quota> for Limits {
    fn from(q: Quota) -> Self {
        Self { limit: q.limit(), window: q.window_ms() }
    }
}

/// The state of one policy as it stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Gcra { level: u64 },
    Fixed { start: u64, count: u64 },
    Sliding { idx: u64, curr: u64, prev: u64, e: u64 },
}

impl View {
    fn at(alg: Algorithm, cell: Option<Cell>, now: u64, q: Limits) -> Self {
        let (l, w) = (q.limit, q.window);
        match alg {
            Algorithm::Gcra => {
                let level = match cell {
                    None => 0,
                    Some([t0, level, _]) => {
                        // A clock behind the stored time (a failover) counts as no time passed.
                        let elapsed = now.saturating_sub(t0);
                        if elapsed >= w { 0 } else { level.saturating_sub(elapsed * l) }
                    }
                };
                View::Gcra { level }
            }
            Algorithm::FixedWindow => match cell {
                Some([start, count, _]) if now < start.saturating_add(w) => {
                    View::Fixed { start, count }
                }
                _ => View::Fixed { start: now, count: 0 },
            },
            Algorithm::SlidingWindow => {
                let i = now / w;
                let (idx, curr, prev) = match cell {
                    None => (i, 0, 0),
                    Some([idx, curr, prev]) if idx == i => (idx, curr, prev),
                    Some([idx, curr, _]) if idx + 1 == i => (i, 0, curr),
                    // The clock is behind the stored window (a failover): keep it.
                    Some([idx, curr, prev]) if idx > i => (idx, curr, prev),
                    Some(_) => (i, 0, 0),
                };
                let e = now.saturating_sub(idx * w);
                View::Sliding { idx, curr, prev, e }
            }
        }
    }

    /// Whether `units` more fit now.
    fn fits(&self, q: Limits, units: u64) -> bool {
        let (l, w) = (q.limit, q.window);
        match *self {
            View::Gcra { level } => level.saturating_add(units.saturating_mul(w)) <= w * l,
            View::Fixed { count, .. } => count.saturating_add(units) <= l,
            View::Sliding { curr, prev, e, .. } => {
                (prev * (w - e.min(w))).saturating_add(curr.saturating_add(units).saturating_mul(w))
                    <= l * w
            }
        }
    }

    fn consume(self, q: Limits, cost: u64) -> Self {
        match self {
            View::Gcra { level } => View::Gcra { level: level + cost * q.window },
            View::Fixed { start, count } => View::Fixed { start, count: count + cost },
            View::Sliding { idx, curr, prev, e } => {
                View::Sliding { idx, curr: curr + cost, prev, e }
            }
        }
    }

    /// What is stored after an admission at `now`, and for how long it matters (ms, at least 1).
    fn cell(&self, now: u64, q: Limits) -> (Cell, u64) {
        let (l, w) = (q.limit, q.window);
        match *self {
            View::Gcra { level } => ([now, level, 0], level.div_ceil(l).max(1)),
            View::Fixed { start, count } => ([start, count, 0], (start + w - now).max(1)),
            View::Sliding { idx, curr, prev, .. } => {
                ([idx, curr, prev], ((idx + 2) * w - now).max(1))
            }
        }
    }

    /// Units that would still fit now.
    fn remaining(&self, q: Limits) -> u64 {
        let (l, w) = (q.limit, q.window);
        match *self {
            View::Gcra { level } => (w * l).saturating_sub(level) / w,
            View::Fixed { count, .. } => l.saturating_sub(count),
            View::Sliding { curr, prev, e, .. } => {
                (l * w).saturating_sub(prev * (w - e.min(w)) + curr * w) / w
            }
        }
    }

    /// Time until the quota is entirely available again.
    fn full_reset(&self, now: u64, q: Limits) -> u64 {
        let (l, w) = (q.limit, q.window);
        match *self {
            View::Gcra { level } => level.div_ceil(l),
            View::Fixed { start, count } => {
                if count > 0 {
                    start + w - now
                } else {
                    0
                }
            }
            View::Sliding { curr, prev, e, .. } => {
                if curr > 0 {
                    2 * w - e.min(w)
                } else if prev > 0 {
                    w - e.min(w)
                } else {
                    0
                }
            }
        }
    }

    /// Time until `units` fit: 0 if they fit now, [`NEVER`] if they exceed the limit.
    fn wait(&self, now: u64, q: Limits, units: u64) -> u64 {
        let (l, w) = (q.limit, q.window);
        if self.fits(q, units) {
            return 0;
        }
        if units > l {
            return NEVER;
        }
        match *self {
            View::Gcra { level } => (level + units * w - w * l).div_ceil(l),
            View::Fixed { start, .. } => start + w - now,
            View::Sliding { curr, prev, e, .. } => {
                let e = e.min(w);
                // Still inside this window, once enough of the previous one has slid out.
                if curr + units <= l && prev > 0 {
                    let e1 = w - (l - curr - units) * w / prev;
                    if e1 < w {
                        return e1 - e;
                    }
                }
                // In the next window, where this window's count becomes the weighted one.
                let e2 = ((l - units) * w).checked_div(curr).map_or(0, |x| w.saturating_sub(x));
                (w - e) + e2
            }
        }
    }
}

/// Where one policy stands after a decision.
///
/// All durations are exact to the millisecond; the headers round them up to whole seconds, so a
/// client that waits as long as they say is never early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyStatus {
    pub(crate) refused: bool,
    pub(crate) remaining: u64,
    pub(crate) full_reset_ms: u64,
    pub(crate) next_ms: u64,
    pub(crate) retry_ms: u64,
    pub(crate) window_ms: u64,
}

impl PolicyStatus {
    /// Whether this policy refused the request (a request is refused if any policy refuses).
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Units that would still be admitted now (the `r` of the `RateLimit` header).
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// When this policy stops standing in the way (the `t` of the `RateLimit` header): for a
    /// policy that refused, when this request's cost will fit; for an exhausted one, when the
    /// next unit will; otherwise when the whole quota is available again.
    pub fn reset(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.reset_ms())
    }

    fn reset_ms(&self) -> u64 {
        if self.refused {
            self.retry_ms()
        } else if self.remaining == 0 {
            self.next_ms
        } else {
            self.full_reset_ms
        }
    }

    /// `t`: [`reset`](Self::reset) in whole seconds, rounded up.
    pub fn reset_secs(&self) -> u64 {
        self.reset_ms().div_ceil(1000)
    }

    /// Time until the whole quota is available again.
    pub fn full_reset(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.full_reset_ms)
    }

    /// For a policy that refused: when this request's cost will fit (one window when the cost
    /// exceeds the limit and never will).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.refused.then(|| std::time::Duration::from_millis(self.retry_ms()))
    }

    fn retry_ms(&self) -> u64 {
        if self.retry_ms == NEVER { self.window_ms } else { self.retry_ms }
    }

    /// The same status `elapsed_ms` later, nothing else having happened (for the block cache).
    #[cfg(feature = "redis")]
    pub(crate) fn aged(&self, elapsed_ms: u64) -> Self {
        let age = |ms: u64| if ms == NEVER { NEVER } else { ms.saturating_sub(elapsed_ms) };
        let mut aged = Self {
            full_reset_ms: age(self.full_reset_ms),
            next_ms: age(self.next_ms),
            retry_ms: age(self.retry_ms),
            ..*self
        };
        if aged.refused {
            // Still refused, so not yet due.
            aged.retry_ms = aged.retry_ms.max(1);
        }
        aged
    }

    /// Decodes the script's five numbers per policy.
    #[cfg(feature = "redis")]
    pub(crate) fn from_script(v: [i64; 5], window_ms: u64) -> Self {
        let ms = |n: i64| if n < 0 { NEVER } else { n.unsigned_abs() };
        Self {
            refused: v[0] != 0,
            remaining: ms(v[1]),
            full_reset_ms: ms(v[2]),
            next_ms: ms(v[3]),
            retry_ms: ms(v[4]),
            window_ms,
        }
    }
}

/// One decision over every policy of a limiter, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evaluation {
    pub admitted: bool,
    pub policies: Vec<PolicyStatus>,
    /// What to store when admitted, with its time to live in ms; `None` when refused (a
    /// refusal writes nothing).
    pub write: Option<(Vec<Cell>, u64)>,
}

/// Decides `cost` units against every policy at once: all admit and all consume, or none does.
pub(crate) fn evaluate(
    alg: Algorithm,
    cells: &[Option<Cell>],
    now: u64,
    quotas: &[Limits],
    cost: u64,
) -> Evaluation {
    let mut views = Vec::with_capacity(quotas.len());
    let mut admitted = true;
    for (cell, q) in cells.iter().zip(quotas) {
        let view = View::at(alg, *cell, now, *q);
        let fits = view.fits(*q, cost);
        admitted &= fits;
        views.push((view, fits));
    }
    let mut policies = Vec::with_capacity(quotas.len());
    let mut write = admitted.then(|| (Vec::with_capacity(quotas.len()), 1));
    for ((view, fits), q) in views.into_iter().zip(quotas) {
        let q = *q;
        let view = if admitted { view.consume(q, cost) } else { view };
        if let Some((cells, ttl)) = &mut write {
            let (cell, cell_ttl) = view.cell(now, q);
            cells.push(cell);
            *ttl = cell_ttl.max(*ttl);
        }
        policies.push(PolicyStatus {
            refused: !fits,
            remaining: view.remaining(q),
            full_reset_ms: view.full_reset(now, q),
            next_ms: view.wait(now, q, 1),
            retry_ms: if fits { 0 } else { view.wait(now, q, cost) },
            window_ms: q.window,
        });
    }
    Evaluation { admitted, policies, write }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALGS: [Algorithm; 3] =
        [Algorithm::Gcra, Algorithm::SlidingWindow, Algorithm::FixedWindow];

    /// A single-key, single-policy model of a store.
    #[derive(Debug, Clone)]
    struct Model {
        alg: Algorithm,
        q: Limits,
        cell: Option<Cell>,
    }

    impl Model {
        fn new(alg: Algorithm, limit: u64, window: u64) -> Self {
            Self { alg, q: Limits { limit, window }, cell: None }
        }

        fn hit(&mut self, now: u64, cost: u64) -> Evaluation {
            let ev = evaluate(self.alg, &[self.cell], now, &[self.q], cost);
            if let Some((cells, _)) = &ev.write {
                self.cell = Some(cells[0]);
            }
            ev
        }

        /// A request of `cost` at `now`, refused with a wait of `retry_ms`, which is exact: a
        /// millisecond before it ends the request is still refused, when it ends admitted. The
        /// refusal.
        fn refused_for(&mut self, now: u64, cost: u64, retry_ms: u64) -> Evaluation {
            let refused = self.hit(now, cost);
            assert!(!refused.admitted);
            assert_eq!(refused.policies[0].retry_ms, retry_ms);
            assert!(!self.hit(now + retry_ms - 1, cost).admitted);
            assert!(self.hit(now + retry_ms, cost).admitted);
            refused
        }

        /// Sends `requests` (the gap since the one before, the cost) from `start`: for each,
        /// when it came, its cost, the evaluation and the cell it left.
        fn play(&mut self, start: u64, requests: Vec<(u64, u64)>) -> Vec<Played> {
            let mut now = start;
            requests
                .into_iter()
                .map(|(gap, cost)| {
                    now += gap;
                    let ev = self.hit(now, cost);
                    Played { now, cost, ev, cell: self.cell }
                })
                .collect()
        }
    }

    /// One request of [`Model::play`].
    struct Played {
        now: u64,
        cost: u64,
        ev: Evaluation,
        cell: Option<Cell>,
    }

    #[test]
    fn gcra_spaces_requests_by_the_emission_interval() {
        // 7 per second: T = 142.857 ms, never rounded.
        let mut m = Model::new(Algorithm::Gcra, 7, 1000);
        for i in 0..7 {
            let ev = m.hit(0, 1);
            assert!(ev.admitted, "burst request {i}");
            assert_eq!(ev.policies[0].remaining, 6 - i);
        }
        // The next unit drains after exactly 1000/7 ms, rounded up.
        let refused = m.refused_for(0, 1, 143);
        assert_eq!(refused.policies[0].full_reset_ms, 1000);
        // 7 more over the next second, one per interval: 2/7 s after the burst, two more fit.
        assert!(!m.hit(285, 1).admitted);
        assert!(m.hit(286, 1).admitted);
    }

    #[test]
    fn a_refusal_writes_nothing() {
        for alg in ALGS {
            let mut m = Model::new(alg, 2, 1000);
            m.hit(10, 2);
            let before = m.cell;
            let ev = m.hit(20, 1);
            assert!(!ev.admitted && ev.write.is_none(), "{alg:?}");
            assert_eq!(m.cell, before, "{alg:?}");
        }
    }

    #[test]
    fn fixed_windows_start_at_the_first_request() {
        let mut m = Model::new(Algorithm::FixedWindow, 3, 1000);
        assert!(m.hit(500, 3).admitted);
        m.refused_for(900, 1, 600);
    }

    #[test]
    fn the_sliding_window_weighs_the_previous_window() {
        let mut m = Model::new(Algorithm::SlidingWindow, 10, 1000);
        assert!(m.hit(100, 10).admitted);
        // At 1250 the previous window (10) weighs 0.75: 7.5 used, 2 fit, not 3. 3 fit once
        // 10 × (1000 − e) ≤ 7000, i.e. at e = 300.
        let r = m.refused_for(1250, 3, 50);
        assert_eq!(r.policies[0].remaining, 2);
    }

    #[test]
    fn costs_beyond_the_limit_never_fit() {
        for alg in ALGS {
            let mut m = Model::new(alg, 3, 1000);
            let r = m.hit(0, 4);
            assert!(!r.admitted);
            assert_eq!(r.policies[0].retry_ms, NEVER, "{alg:?}");
            assert_eq!(r.policies[0].retry_after(), Some(std::time::Duration::from_secs(1)));
            assert!(m.cell.is_none());
        }
    }

    #[test]
    fn several_policies_admit_together_or_not_at_all() {
        let quotas = [Limits { limit: 2, window: 1000 }, Limits { limit: 3, window: 10_000 }];
        for alg in ALGS {
            let mut cells: Vec<Option<Cell>> = vec![None, None];
            let mut admitted = 0;
            for t in [0, 1, 2, 3, 1500, 1600, 2000, 2500] {
                let ev = evaluate(alg, &cells, t, &quotas, 1);
                if let Some((new, _)) = ev.write {
                    cells = new.into_iter().map(Some).collect();
                    admitted += 1;
                } else {
                    assert!(ev.policies.iter().any(|p| p.refused));
                }
            }
            // Never more than the long policy's 3, whatever the short one allows.
            assert_eq!(admitted, 3, "{alg:?}");
        }
    }

    #[test]
    fn a_clock_going_backwards_does_not_hand_out_quota() {
        for alg in ALGS {
            let mut m = Model::new(alg, 2, 1000);
            assert!(m.hit(10_000, 2).admitted);
            assert!(!m.hit(9_000, 1).admitted, "{alg:?}");
            assert!(!m.hit(5, 1).admitted, "{alg:?}");
        }
    }

    fn alg() -> impl Strategy<Value = Algorithm> {
        prop_oneof![
            Just(Algorithm::Gcra),
            Just(Algorithm::SlidingWindow),
            Just(Algorithm::FixedWindow)
        ]
    }

    /// A model of any algorithm, with a limit and a window (ms) from these ranges.
    fn model(
        limits: std::ops::Range<u64>,
        windows: std::ops::Range<u64>,
    ) -> impl Strategy<Value = Model> {
        (alg(), limits, windows).prop_map(|(alg, limit, window)| Model::new(alg, limit, window))
    }

    proptest! {
        /// Retry-After is exact: one millisecond earlier the request is still refused, at the
        /// announced time it is admitted. And `t` of an exhausted policy is exact for one unit.
        #[test]
        fn retry_after_is_never_early_and_never_late(
            mut m in model(1..20, 1..5000),
            steps in proptest::collection::vec((0u64..800, 1u64..4), 1..40),
        ) {
            let (alg, q) = (m.alg, m.q);
            for Played { now, cost, ev, cell } in m.play(1_000_000, steps) {
                let p = ev.policies[0];
                if !ev.admitted && p.retry_ms != NEVER {
                    let wait = p.retry_ms;
                    prop_assert!(wait >= 1);
                    let early = evaluate(alg, &[cell], now + wait - 1, &[q], cost);
                    prop_assert!(!early.admitted, "admitted 1 ms before Retry-After");
                    let due = evaluate(alg, &[cell], now + wait, &[q], cost);
                    prop_assert!(due.admitted, "refused at Retry-After");
                }
                if p.remaining == 0 {
                    let due = evaluate(alg, &[cell], now + p.next_ms, &[q], 1);
                    prop_assert!(due.admitted, "t of an exhausted policy was early");
                }
                prop_assert!(p.remaining <= q.limit);
            }
        }

        /// GCRA admits at most `L + Δ × L / W` units in any interval of length Δ, the fixed
        /// window at most `L` per window, the sliding window at most `L` per aligned window.
        #[test]
        fn no_algorithm_admits_more_than_its_quota(
            mut m in model(1..10, 10..2000),
            steps in proptest::collection::vec((0u64..300, 1u64..3), 1..80),
        ) {
            let Limits { limit, window } = m.q;
            let admitted: Vec<(u64, u64)> = m
                .play(0, steps)
                .into_iter()
                .filter(|played| played.ev.admitted)
                .map(|played| (played.now, played.cost))
                .collect();
            match m.alg {
                Algorithm::Gcra => {
                    for (i, (start, _)) in admitted.iter().enumerate() {
                        let mut units = 0;
                        for (t, c) in &admitted[i..] {
                            units += c;
                            let span = t - start;
                            prop_assert!(units * window <= limit * window + span * limit);
                        }
                    }
                }
                Algorithm::SlidingWindow => {
                    let mut per_window = std::collections::HashMap::new();
                    for (t, c) in &admitted {
                        *per_window.entry(t / window).or_insert(0) += c;
                    }
                    prop_assert!(per_window.values().all(|&n| n <= limit));
                }
                Algorithm::FixedWindow => {
                    let mut start = None;
                    let mut count = 0;
                    for (t, c) in &admitted {
                        match start {
                            Some(s) if *t < s + window => count += c,
                            _ => { start = Some(*t); count = *c; }
                        }
                        prop_assert!(count <= limit);
                    }
                }
            }
        }
    }
}
