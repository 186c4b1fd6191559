//! What a client reads of a limiter's decisions: `RateLimit-Policy` (encoded once), `RateLimit`
//! with each policy's remaining units and reset, the legacy `X-RateLimit-*` on request, and the
//! 429 answer that carries them.

use std::time::{SystemTime, UNIX_EPOCH};

use guard_core::{GuardResponse, HeaderKey, PreparedHeader, Problem, ProblemType, ResponseHead};
use http::{HeaderName, HeaderValue, header};

use crate::algorithm::PolicyStatus;
use crate::quota::QuotaPolicy;

/// The rate-limit headers of one limiter: `RateLimit-Policy` encoded once, the names of the
/// others, and the policies whose statuses they render.
pub(crate) struct RateLimitHeaders {
    policies: Vec<QuotaPolicy>,
    policy: PreparedHeader,
    ratelimit: HeaderKey,
    legacy: bool,
    legacy_limit: HeaderKey,
    legacy_remaining: HeaderKey,
    legacy_reset: HeaderKey,
}

impl RateLimitHeaders {
    /// The headers of `policies` (their names checked to be tokens), with the legacy
    /// `X-RateLimit-*` if `legacy`.
    pub(crate) fn new(policies: Vec<QuotaPolicy>, legacy: bool) -> Self {
        let policy_value = policies
            .iter()
            .map(|p| format!("\"{}\";q={};w={}", p.name, p.quota.limit(), p.quota.window_secs()))
            .collect::<Vec<_>>()
            .join(", ");
        // Names were checked to be tokens, so the value is always valid.
        let policy_value =
            HeaderValue::from_str(&policy_value).unwrap_or_else(|_| HeaderValue::from_static(""));
        Self {
            policies,
            policy: PreparedHeader::new(HeaderName::from_static("ratelimit-policy"), policy_value),
            ratelimit: HeaderKey::from_static("ratelimit"),
            legacy,
            legacy_limit: HeaderKey::from_static("x-ratelimit-limit"),
            legacy_remaining: HeaderKey::from_static("x-ratelimit-remaining"),
            legacy_reset: HeaderKey::from_static("x-ratelimit-reset"),
        }
    }

    /// The `RateLimit-Policy` value.
    pub(crate) fn policy(&self) -> &HeaderValue {
        self.policy.value()
    }

    /// The 429 answer to a request the policies refused with `statuses` (one per policy, in
    /// order): problem+json naming the refusing policies, `Retry-After` of `retry_after`
    /// seconds, and the RateLimit headers.
    pub(crate) fn too_many(&self, statuses: &[PolicyStatus], retry_after: u64) -> GuardResponse {
        let refused: Vec<&str> = self
            .policies
            .iter()
            .zip(statuses)
            .filter(|(_, status)| status.refused())
            .map(|(policy, _)| policy.name.as_str())
            .collect();
        let mut res = Problem::new(ProblemType::RATE_LIMITED)
            .with_detail(format!(
                "rate limit exceeded ({}); retry in {retry_after} s",
                refused.join(", ")
            ))
            .with_extension("policies", refused)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after))
            .to_response();
        self.write(Some(statuses), &mut res);
        res
    }

    /// Sets `RateLimit-Policy`, and with the policies' `statuses` (of a counted request)
    /// `RateLimit` and, if asked for, the legacy headers.
    pub(crate) fn write(&self, statuses: Option<&[PolicyStatus]>, res: &mut dyn ResponseHead) {
        res.set(&self.policy);
        let Some(statuses) = statuses else { return };
        let mut value = String::with_capacity(24 * statuses.len());
        for (i, (policy, status)) in self.policies.iter().zip(statuses).enumerate() {
            use std::fmt::Write;
            if i > 0 {
                value.push_str(", ");
            }
            let _ = write!(
                value,
                "\"{}\";r={};t={}",
                policy.name,
                status.remaining(),
                status.reset_secs()
            );
        }
        if let Ok(value) = HeaderValue::from_str(&value) {
            res.set_value(&self.ratelimit, value);
        }
        if self.legacy {
            self.write_legacy(statuses, res);
        }
    }

    /// `X-RateLimit-*` for the most constrained policy: the fewest remaining, then the
    /// latest reset.
    fn write_legacy(&self, statuses: &[PolicyStatus], res: &mut dyn ResponseHead) {
        let Some((policy, status)) = self
            .policies
            .iter()
            .zip(statuses)
            .min_by_key(|(_, s)| (s.remaining(), std::cmp::Reverse(s.reset())))
        else {
            return;
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let reset_at = (now + status.reset()).as_millis().div_ceil(1000);
        let reset_at = u64::try_from(reset_at).unwrap_or(u64::MAX);
        res.set_value(&self.legacy_limit, HeaderValue::from(policy.quota.limit()));
        res.set_value(&self.legacy_remaining, HeaderValue::from(status.remaining()));
        res.set_value(&self.legacy_reset, HeaderValue::from(reset_at));
    }
}
