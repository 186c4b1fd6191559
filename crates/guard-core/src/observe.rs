//! What every guard reports about its decisions, the same way: one log line per refusal (target
//! `guard::refusal`, with the guard, policy and reason as fields: never a token, a password or a
//! body), and counters through the [`metrics`] facade, which cost nothing until the application
//! installs a recorder (Prometheus, StatsD, ...).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `guard_decisions_total` | counter | `guard`, `policy`, `outcome` (`admitted` or `refused`) and, for refusals, `reason` |
//! | `guard_store_call_seconds` | histogram | `store`, `outcome` (`ok`, `error` or `timeout`) |
//! | `guard_breaker_state` | gauge | `store`: 0 closed, 1 open, 2 half-open |
//!
//! Label values are configured names (a guard, a policy, a store), never a client address, a user
//! or a key, so their number stays bounded.
//!
//! ```
//! use guard_core::observe;
//! use http::StatusCode;
//!
//! observe::admitted("ratelimit", "burst");
//! observe::refused("ratelimit", "burst", "quota exhausted", StatusCode::TOO_MANY_REQUESTS);
//! ```

use http::StatusCode;

/// The counter every decision increments.
pub const DECISIONS: &str = "guard_decisions_total";

/// The histogram of store call durations, in seconds.
pub const STORE_CALLS: &str = "guard_store_call_seconds";

/// The gauge of each store's circuit breaker: 0 closed, 1 open, 2 half-open.
pub const BREAKER_STATE: &str = "guard_breaker_state";

/// One call to `store` took `elapsed` and ended as `outcome` (`ok`, `error` or `timeout`).
pub fn store_call(store: &str, outcome: &'static str, elapsed: std::time::Duration) {
    metrics::histogram!(STORE_CALLS, "store" => store.to_owned(), "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// The breaker of `store` is now in `state`.
#[cfg(feature = "breaker")]
pub fn breaker_state(store: &str, state: crate::BreakerState) {
    metrics::gauge!(BREAKER_STATE, "store" => store.to_owned()).set(state.gauge());
}

/// `guard` let a request through under `policy`.
pub fn admitted(guard: &'static str, policy: &str) {
    metrics::counter!(DECISIONS, "guard" => guard, "policy" => policy.to_owned(), "outcome" => "admitted")
        .increment(1);
}

/// `guard` refused a request under `policy` for `reason`, answering `status`: logged once, at
/// `info` for a client's refusal (401, 403, 429, ...), at `debug` for the server's own (a 503 while
/// a store is down: the circuit breaker already logged the outage once when it opened, and one
/// warning per request would flood the logs exactly when they matter).
pub fn refused(guard: &'static str, policy: &str, reason: &'static str, status: StatusCode) {
    if status.is_server_error() {
        tracing::debug!(target: "guard::refusal", guard, policy, reason, status = status.as_u16(), "request refused");
    } else {
        tracing::info!(target: "guard::refusal", guard, policy, reason, status = status.as_u16(), "request refused");
    }
    metrics::counter!(
        DECISIONS,
        "guard" => guard,
        "policy" => policy.to_owned(),
        "outcome" => "refused",
        "reason" => reason
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn decisions_are_counted_per_guard_policy_and_outcome() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            admitted("ratelimit", "burst");
            admitted("ratelimit", "burst");
            refused("ratelimit", "burst", "quota exhausted", StatusCode::TOO_MANY_REQUESTS);
            refused("jwt", "bearer", "expired", StatusCode::UNAUTHORIZED);
        });
        let mut seen: Vec<(String, u64)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let (_, key) = key.into_parts();
                let labels: Vec<String> =
                    key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
                let DebugValue::Counter(n) = value else { panic!("a counter") };
                (labels.join(","), n)
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("guard=jwt,policy=bearer,outcome=refused,reason=expired".to_owned(), 1),
                ("guard=ratelimit,policy=burst,outcome=admitted".to_owned(), 2),
                (
                    "guard=ratelimit,policy=burst,outcome=refused,reason=quota exhausted"
                        .to_owned(),
                    1
                ),
            ]
        );
    }

    /// Collects what was logged, with levels and targets.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The log levels the README promises: a client's refusal at `info`, a store-down refusal
    /// at `debug` (the breaker warned once), a request line at `info`, at `warn` for a 5xx.
    #[tokio::test]
    async fn refusals_and_request_lines_log_at_their_promised_levels() {
        use crate::RequestIdGuard;
        use crate::testing::run_guard;
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        let _log = tracing::subscriber::set_default(subscriber);
        refused("ratelimit", "auth", "quota exhausted", StatusCode::TOO_MANY_REQUESTS);
        refused("ratelimit", "auth", "store unavailable", StatusCode::SERVICE_UNAVAILABLE);
        let guard = RequestIdGuard::default();
        for status in [StatusCode::OK, StatusCode::BAD_GATEWAY] {
            let request = http::Request::get("/x").body(()).unwrap();
            let (passed, _) = run_guard(&guard, request, None, status).await;
            assert!(passed.is_some(), "the request id guard lets every request through");
        }
        let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
        let line = |needle: &str| {
            text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {text}"))
        };
        assert!(line("quota exhausted").contains(" INFO guard::refusal"), "{text}");
        assert!(line("store unavailable").contains("DEBUG guard::refusal"), "{text}");
        assert!(line("status=200").contains(" INFO guard::request"), "{text}");
        assert!(line("status=502").contains(" WARN guard::request"), "{text}");
    }
}
