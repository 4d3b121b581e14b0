//! Implementations of the [`ObjectStore`](axia_domain::ports::ObjectStore) port: a directory on
//! the local filesystem ([`LocalObjectStore`], the embedded default), a map in memory
//! ([`InMemoryObjectStore`], for tests) and an S3 bucket ([`S3ObjectStore`]).
//!
//! All three reject the same keys (see [`validate_key`]) and report ETags without quotes. The
//! local and in-memory stores use the hex md5 of the content as the ETag, so an ETag read from
//! one can be compared with [`md5_hex`] of the bytes; S3's ETag is opaque (it is the md5 only for
//! single-part uploads without SSE-KMS), so compare [`ObjectMeta::md5`] instead.
//!
//! # S3
//!
//! [`S3ObjectStore::new`] takes [`S3Settings`] (bucket, key prefix, optional region and
//! endpoint, timeouts, attempts) and loads credentials from the AWS default chain (env, profile,
//! SSO, instance or task role); with an endpoint (a local test server, an S3-compatible store) it
//! uses path-style addressing. [`S3ObjectStore::from_client`] wraps a client built elsewhere.
//! [`S3ObjectStore::ensure_bucket`] creates a missing bucket (for `axia init`).
//!
//! - Key `k` is the object `{prefix}/k`; listings page through ListObjectsV2 and return keys
//!   relative to the prefix.
//! - `Create` and `Update` puts are S3 conditional writes (`If-None-Match: *`, `If-Match`): two
//!   hosts can share one manifest without losing each other's entries. A put sends `Content-MD5`
//!   and records the md5 as user metadata, so `head` reports it without a download.
//! - Errors name the bucket, the endpoint and what to check: missing credentials, refused
//!   credentials or access and a missing bucket are `Misconfigured`; an unreachable or slow
//!   endpoint, throttling and 5xx answers are `Unavailable` (retryable), after the SDK's own
//!   retries (`max_attempts`, within `operation_timeout`).
//!
//! [`ObjectMeta::md5`]: axia_domain::ports::ObjectMeta::md5

mod local;
mod memory;
mod s3;

pub use local::LocalObjectStore;
pub use memory::InMemoryObjectStore;
pub use s3::{S3ObjectStore, S3Settings};

use axia_domain::ports::ObjectStoreError;
use md5::{Digest, Md5};

/// Name prefix reserved for the stores' own files (temporary files, lock files); keys whose
/// segments start with it are refused and listings never show such files.
pub(crate) const RESERVED_PREFIX: &str = ".axia-";

/// Lower-case hex md5 of `bytes` (the ETag of the local and in-memory stores, and the `md5` of
/// manifest entries).
#[must_use]
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Checks that `key` is a key every store can hold: relative, `/`-separated, non-empty
/// segments, no `.` or `..` segment, no backslash or NUL, and no segment starting with the
/// reserved `.axia-` prefix.
///
/// # Errors
/// [`ObjectStoreError::InvalidKey`] saying why.
pub fn validate_key(key: &str) -> Result<(), ObjectStoreError> {
    let invalid = |detail: &str| ObjectStoreError::InvalidKey { key: key.to_string(), detail: detail.to_string() };
    if key.is_empty() {
        return Err(invalid("the key is empty"));
    }
    if key.starts_with('/') {
        return Err(invalid("the key must be relative (no leading /)"));
    }
    check_chars(key).map_err(|d| invalid(&d))?;
    for segment in key.split('/') {
        check_segment(segment).map_err(|d| invalid(&d))?;
    }
    Ok(())
}

/// Checks a listing prefix: like a key, but it may be empty and end with `/`, and its last
/// segment may be partial.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), ObjectStoreError> {
    if prefix.is_empty() {
        return Ok(());
    }
    let invalid = |detail: &str| ObjectStoreError::InvalidKey { key: prefix.to_string(), detail: detail.to_string() };
    if prefix.starts_with('/') {
        return Err(invalid("the prefix must be relative (no leading /)"));
    }
    check_chars(prefix).map_err(|d| invalid(&d))?;
    let mut segments: Vec<&str> = prefix.split('/').collect();
    // The last segment is a partial name ("" after a trailing slash, or "symbol=EU").
    let last = segments.pop().unwrap_or_default();
    if last == ".." {
        return Err(invalid("a prefix must not contain `..`"));
    }
    for segment in segments {
        check_segment(segment).map_err(|d| invalid(&d))?;
    }
    Ok(())
}

fn check_chars(key: &str) -> Result<(), String> {
    if key.contains('\\') {
        return Err("backslashes are not allowed (use /)".into());
    }
    if key.contains('\0') {
        return Err("NUL characters are not allowed".into());
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), String> {
    match segment {
        "" => Err("empty path segment (leading, trailing or double /)".into()),
        "." | ".." => Err(format!("`{segment}` segments are not allowed")),
        s if s.starts_with(RESERVED_PREFIX) => Err(format!("names starting with `{RESERVED_PREFIX}` are reserved")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("a")]
    #[case("ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet")]
    #[case("manifest.json")]
    #[case("a/.hidden")]
    #[case("a..b/c")]
    fn accepts_valid_keys(#[case] key: &str) {
        assert!(validate_key(key).is_ok(), "{key}");
    }

    #[rstest]
    #[case("")]
    #[case("/abs")]
    #[case("a/../b")]
    #[case("..")]
    #[case("./a")]
    #[case("a\\b")]
    #[case("a//b")]
    #[case("a/")]
    #[case("a/.axia-tmp-1")]
    #[case("nul\0")]
    fn refuses_invalid_keys(#[case] key: &str) {
        assert!(matches!(validate_key(key), Err(ObjectStoreError::InvalidKey { .. })), "{key:?}");
    }

    #[rstest]
    #[case("", true)]
    #[case("a/", true)]
    #[case("a/b", true)]
    #[case("a/sym", true)]
    #[case("/a", false)]
    #[case("a/../", false)]
    #[case("..", false)]
    #[case("a\\", false)]
    fn checks_prefixes(#[case] prefix: &str, #[case] ok: bool) {
        assert_eq!(validate_prefix(prefix).is_ok(), ok, "{prefix:?}");
    }

    #[test]
    fn md5_of_known_input() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
