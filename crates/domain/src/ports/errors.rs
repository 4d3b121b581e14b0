//! Error types of the ports. Every variant says whether retrying can help
//! ([`RepositoryError::is_retryable`] and friends): the collector and the order daemon decide
//! retry, redeliver or dead-letter from that alone.

use thiserror::Error;

/// Errors of the repositories (bars, orders, positions, trades, kill switch).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RepositoryError {
    /// The item does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// A conditional write failed: someone else changed the item (version, status or
    /// existence condition).
    #[error("conflict on {what}: {detail}")]
    Conflict {
        /// The item.
        what: String,
        /// Which condition failed.
        detail: String,
    },
    /// The backend could not be reached or answered with a transient failure (timeout,
    /// throttling, 5xx, connection refused). Retryable.
    #[error("{backend} unavailable: {detail}")]
    Unavailable {
        /// Which backend (e.g. `redis`, `parquet`, `dynamodb`).
        backend: String,
        /// What happened and what to check.
        detail: String,
    },
    /// Stored data cannot be decoded (corrupt object, bad encoding, md5 mismatch).
    #[error("corrupt data in {what}: {detail}")]
    Corrupt {
        /// The item or object.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// The request itself is invalid (e.g. a series that breaks the domain rules).
    #[error("invalid request: {detail}")]
    Invalid {
        /// What is wrong.
        detail: String,
    },
    /// The backend is not set up (missing bucket, table, permission); permanent until an
    /// operator acts. The message says what to check.
    #[error("{backend} is not usable: {detail}")]
    Misconfigured {
        /// Which backend.
        backend: String,
        /// What is missing and what to run or check.
        detail: String,
    },
}

impl RepositoryError {
    /// Whether the same call may succeed later without anyone acting.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Shorthand for [`RepositoryError::Unavailable`].
    pub fn unavailable(backend: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Self::Unavailable { backend: backend.into(), detail: detail.to_string() }
    }

    /// Shorthand for [`RepositoryError::Corrupt`].
    pub fn corrupt(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt { what: what.into(), detail: detail.to_string() }
    }
}

/// Errors of [`crate::ports::ObjectStore`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ObjectStoreError {
    /// No object at the key.
    #[error("object not found: {key}")]
    NotFound {
        /// The key.
        key: String,
    },
    /// A conditional put failed (the object changed, or exists when it must not).
    #[error("precondition failed for {key}")]
    PreconditionFailed {
        /// The key.
        key: String,
    },
    /// Transient failure (network, timeout, throttling, 5xx). Retryable.
    #[error("object store unavailable: {detail}")]
    Unavailable {
        /// What happened.
        detail: String,
    },
    /// Credentials missing or refused, bucket missing: an operator must act.
    #[error("object store not usable: {detail}")]
    Misconfigured {
        /// What to check.
        detail: String,
    },
    /// A key that the store cannot hold (empty, `..`, absolute).
    #[error("invalid object key {key:?}: {detail}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why.
        detail: String,
    },
}

impl ObjectStoreError {
    /// Whether retrying may help.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

impl From<ObjectStoreError> for RepositoryError {
    fn from(e: ObjectStoreError) -> Self {
        match e {
            ObjectStoreError::NotFound { key } => Self::NotFound { what: key },
            ObjectStoreError::PreconditionFailed { key } => {
                Self::Conflict { what: key, detail: "changed by another writer".into() }
            }
            ObjectStoreError::Unavailable { detail } => Self::Unavailable { backend: "object store".into(), detail },
            ObjectStoreError::Misconfigured { detail } => {
                Self::Misconfigured { backend: "object store".into(), detail }
            }
            ObjectStoreError::InvalidKey { key, detail } => Self::Invalid { detail: format!("{key}: {detail}") },
        }
    }
}

/// Errors of [`crate::ports::MarketDataSource`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SourceError {
    /// The source does not know the symbol. Permanent.
    #[error("{source_name}: unknown symbol {symbol}")]
    UnknownSymbol {
        /// The source.
        source_name: String,
        /// The symbol.
        symbol: String,
    },
    /// The source cannot provide this timeframe or range. Permanent.
    #[error("{source_name}: unsupported request: {detail}")]
    Unsupported {
        /// The source.
        source_name: String,
        /// What is not supported.
        detail: String,
    },
    /// Rate limited, timed out or unreachable. Retryable.
    #[error("{source_name} unavailable: {detail}")]
    Unavailable {
        /// The source.
        source_name: String,
        /// What happened.
        detail: String,
    },
    /// The answer could not be understood or holds invalid bars. Permanent.
    #[error("{source_name}: invalid response: {detail}")]
    InvalidResponse {
        /// The source.
        source_name: String,
        /// What is wrong.
        detail: String,
    },
}

impl SourceError {
    /// Whether retrying may help.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Errors of [`crate::ports::BrokerGateway`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BrokerError {
    /// The broker refused the order (no price, market closed, insufficient margin). Permanent.
    #[error("broker rejected the order: {reason}")]
    Rejected {
        /// The broker's reason.
        reason: String,
    },
    /// The broker could not be reached; the order was NOT sent. Retryable.
    #[error("broker unavailable: {detail}")]
    Unavailable {
        /// What happened.
        detail: String,
    },
    /// The order was sent but its outcome is unknown: do not resend, reconcile.
    #[error("broker outcome unknown: {detail}")]
    Unknown {
        /// What happened.
        detail: String,
    },
}

impl BrokerError {
    /// Whether resending is safe and may help.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Errors of [`crate::ports::OrderQueue`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueError {
    /// The queue does not exist; run `axia init`.
    #[error("queue {queue} not found (run `axia init`)")]
    NotFound {
        /// The queue name.
        queue: String,
    },
    /// Transient failure. Retryable.
    #[error("queue unavailable: {detail}")]
    Unavailable {
        /// What happened.
        detail: String,
    },
    /// The receipt handle is no longer valid (visibility expired, already deleted).
    #[error("stale receipt: {detail}")]
    StaleReceipt {
        /// What happened.
        detail: String,
    },
    /// The message is too large or not valid for the queue.
    #[error("invalid message: {detail}")]
    Invalid {
        /// What is wrong.
        detail: String,
    },
}

impl QueueError {
    /// Whether retrying may help.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Errors of [`crate::ports::EventPublisher`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PublishError {
    /// Transient failure. Retryable.
    #[error("event publisher unavailable: {detail}")]
    Unavailable {
        /// What happened.
        detail: String,
    },
    /// The topic is missing or not accessible.
    #[error("event publisher not usable: {detail}")]
    Misconfigured {
        /// What to check.
        detail: String,
    },
}

impl PublishError {
    /// Whether retrying may help.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_retryable() {
        assert!(RepositoryError::unavailable("redis", "timeout").is_retryable());
        assert!(!RepositoryError::Conflict { what: "x".into(), detail: "v".into() }.is_retryable());
        assert!(!RepositoryError::corrupt("x", "bad").is_retryable());
        assert!(SourceError::Unavailable { source_name: "s".into(), detail: "429".into() }.is_retryable());
        assert!(!BrokerError::Unknown { detail: "timeout after send".into() }.is_retryable());
        let mapped: RepositoryError = ObjectStoreError::PreconditionFailed { key: "k".into() }.into();
        assert!(matches!(mapped, RepositoryError::Conflict { .. }));
    }
}
