//! What can go wrong talking to the bridge, and how it maps to the ports' errors.

use axia_domain::ports::{BrokerError, SourceError};
use thiserror::Error;

use super::SOURCE_NAME;

/// A failed bridge request. Messages never hold the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Mt5BridgeError {
    /// The settings cannot work (bad URL, zero timeout, a token that is no header value).
    #[error("mt5_bridge: invalid settings: {detail}")]
    Settings {
        /// What is wrong.
        detail: String,
    },
    /// The bridge could not be reached; the request was not sent. Retryable.
    #[error("mt5_bridge unreachable: {detail}")]
    Unreachable {
        /// What happened.
        detail: String,
    },
    /// No answer within the timeout; the bridge may have acted on the request. Retryable for
    /// reads.
    #[error("mt5_bridge: no answer within {timeout_ms} ms: {detail}")]
    Timeout {
        /// The configured timeout.
        timeout_ms: u128,
        /// What happened.
        detail: String,
    },
    /// The connection broke while waiting for the answer; the bridge may have acted on the
    /// request. Retryable for reads.
    #[error("mt5_bridge: connection lost: {detail}")]
    Transport {
        /// What happened.
        detail: String,
    },
    /// HTTP 401: the bridge refused the token (or none was configured). Permanent until an
    /// operator fixes the token.
    #[error(
        "mt5_bridge refused the token (HTTP 401: {detail}): set the bridge's token in \
         [sources.mt5_bridge] token"
    )]
    Unauthorized {
        /// The bridge's message.
        detail: String,
    },
    /// HTTP 503: the bridge runs but its terminal is not connected; nothing was done.
    /// Retryable.
    #[error("mt5_bridge: terminal disconnected (HTTP 503 {code}): {message}")]
    Disconnected {
        /// The error code.
        code: String,
        /// The bridge's message.
        message: String,
    },
    /// Another 4xx: the request was refused for good (unknown symbol, invalid volume, market
    /// closed, rejected by the trade server).
    #[error("mt5_bridge refused the request (HTTP {status} {code}{}): {message}", retcode_text(*.retcode))]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error code (`unknown_symbol`, `rejected`, …).
        code: String,
        /// The bridge's message.
        message: String,
        /// The MT5 trade server return code, when there is one.
        retcode: Option<i64>,
    },
    /// Another 5xx: the bridge failed; for an order it may have been sent. Retryable for reads.
    #[error("mt5_bridge failed (HTTP {status} {code}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The bridge's message.
        message: String,
    },
    /// A 2xx answer that does not follow the protocol.
    #[error("mt5_bridge: invalid response: {detail}")]
    InvalidResponse {
        /// What is wrong.
        detail: String,
    },
}

fn retcode_text(retcode: Option<i64>) -> String {
    retcode.map(|r| format!(", retcode {r}")).unwrap_or_default()
}

impl Mt5BridgeError {
    /// Whether repeating a *read* may help (for orders see [`super::Mt5Bridge`]'s
    /// `BrokerGateway` docs).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::Timeout { .. }
                | Self::Transport { .. }
                | Self::Disconnected { .. }
                | Self::Server { .. }
        )
    }

    /// Whether the answer shows the bridge and its terminal at work (for
    /// [`super::ConnectionStatus`]): `None` when it says nothing either way.
    pub(crate) const fn connected(&self) -> Option<bool> {
        match self {
            Self::Refused { .. } => Some(true),
            Self::InvalidResponse { .. } | Self::Settings { .. } => None,
            _ => Some(false),
        }
    }

    /// The error of a bar fetch for `symbol`.
    pub(crate) fn into_source_error(self, symbol: &str) -> SourceError {
        let source_name = SOURCE_NAME.to_owned();
        match self {
            Self::Refused { code, .. } if code == "unknown_symbol" => {
                SourceError::UnknownSymbol { source_name, symbol: symbol.to_owned() }
            }
            Self::InvalidResponse { detail } => SourceError::InvalidResponse { source_name, detail },
            e if e.is_retryable() => SourceError::Unavailable { source_name, detail: e.to_string() },
            // A refused token, bad settings or a refused request: permanent until someone acts.
            e => SourceError::Unsupported { source_name, detail: e.to_string() },
        }
    }

    /// The error of an order request that certainly did not execute it.
    pub(crate) fn into_not_executed(self, symbol: &str) -> BrokerError {
        match self {
            Self::Unreachable { .. } | Self::Disconnected { .. } => {
                BrokerError::Unavailable { detail: self.to_string() }
            }
            Self::Refused { code, message, retcode, .. } => {
                BrokerError::Rejected { reason: format!("{symbol}: {message} ({code}{})", retcode_text(retcode)) }
            }
            e => BrokerError::Rejected { reason: format!("{symbol}: {e}") },
        }
    }

    /// Whether an order request failing this way may still have executed the order.
    pub(crate) const fn may_have_executed(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. } | Self::Transport { .. } | Self::Server { .. } | Self::InvalidResponse { .. }
        )
    }
}
