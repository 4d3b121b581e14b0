//! Retry timing: exponential backoff with full jitter, and the server's `Retry-After`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest computed backoff between two attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait a `Retry-After` header can impose; a longer one is cut to this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait before retry number `attempt` (0 for the first retry): uniform in
/// `[0, min(MAX_BACKOFF, base * 2^attempt)]` ("full jitter"), so that clients rate-limited
/// together do not come back together. `random` is any uniformly random `u64`.
pub(crate) fn backoff(base: Duration, attempt: u32, random: u64) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(20))).min(MAX_BACKOFF);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(random % (nanos + 1))
}

/// The wait a `Retry-After` header asks for (delay seconds or an HTTP date), capped at
/// [`MAX_RETRY_AFTER`]; `None` when absent or unreadable.
pub(crate) fn retry_after(header: Option<&str>, now: DateTime<Utc>) -> Option<Duration> {
    let value = header?.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The wait before retry number `attempt`: the server's `Retry-After` when it gave one, else the
/// jittered backoff.
pub(crate) fn delay(base: Duration, attempt: u32, server: Option<Duration>) -> Duration {
    server.unwrap_or_else(|| backoff(base, attempt, random_u64()))
}

/// A random `u64` from the standard library's per-process hash keys (no RNG dependency needed
/// for jitter).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(0, 500)]
    #[case(1, 1_000)]
    #[case(2, 2_000)]
    #[case(3, 4_000)]
    #[case(10, 30_000)]
    #[case(u32::MAX, 30_000)]
    fn backoff_ceiling_doubles_up_to_the_cap(#[case] attempt: u32, #[case] ceiling_ms: u64) {
        let base = Duration::from_millis(500);
        let ceiling = Duration::from_millis(ceiling_ms);
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap();
        assert_eq!(backoff(base, attempt, ceiling_nanos), ceiling);
        assert!(backoff(base, attempt, u64::MAX) <= ceiling);
        assert_eq!(backoff(base, attempt, 0), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let waits: std::collections::BTreeSet<_> =
            (0..20).map(|_| delay(Duration::from_millis(500), 3, None)).collect();
        assert!(waits.len() > 10, "{waits:?}");
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(4)));
    }

    #[rstest]
    #[case(Some("2"), Some(Duration::from_secs(2)))]
    #[case(Some(" 0 "), Some(Duration::ZERO))]
    #[case(Some("3600"), Some(MAX_RETRY_AFTER))]
    #[case(Some("Wed, 16 Jul 2025 12:00:05 GMT"), Some(Duration::from_secs(5)))]
    #[case(Some("Wed, 16 Jul 2025 11:00:00 GMT"), Some(Duration::ZERO))]
    #[case(Some("soon"), None)]
    #[case(None, None)]
    fn reads_retry_after(#[case] header: Option<&str>, #[case] wait: Option<Duration>) {
        let now = Utc.with_ymd_and_hms(2025, 7, 16, 12, 0, 0).unwrap();
        assert_eq!(retry_after(header, now), wait);
    }

    #[test]
    fn the_server_wait_wins_over_the_backoff() {
        assert_eq!(delay(Duration::from_secs(10), 5, Some(Duration::from_millis(7))), Duration::from_millis(7));
    }
}
