//! The bridge token: a secret that never reaches a log, an error message or `Debug` output.

use std::fmt;

/// The bearer token of the bridge. `Debug` and `Display` print `***`; only the request builder
/// reads the value.
#[derive(Clone, PartialEq, Eq)]
pub struct BridgeToken(String);

impl BridgeToken {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The secret itself, for the `Authorization` header and for scrubbing messages.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BridgeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for BridgeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for BridgeToken {
    fn from(token: String) -> Self {
        Self(token)
    }
}

impl<'de> serde::Deserialize<'de> for BridgeToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// `text` with every occurrence of the token replaced by `***`: messages that come from the
/// bridge (or from the HTTP stack) might echo it.
pub(crate) fn scrub(text: &str, token: Option<&BridgeToken>) -> String {
    match token {
        Some(t) if !t.expose().is_empty() => text.replace(t.expose(), "***"),
        _ => text.to_owned(),
    }
}
