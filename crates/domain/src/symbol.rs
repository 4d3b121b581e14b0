//! Instrument symbols.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Longest symbol accepted (exchange tickers such as `BRK.B` or futures codes stay well below it).
pub const MAX_SYMBOL_LEN: usize = 24;

/// ISO 4217 codes (and the common metal codes) that make a six-letter symbol a currency pair.
const CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNH", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "INR", "JPY", "KRW",
    "MXN", "NOK", "NZD", "PLN", "RUB", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "ZAR", "XAU", "XAG", "XPT", "XPD",
];

/// A validated, upper-case instrument symbol such as `EURUSD`, `USDJPY` or `AAPL`.
///
/// Accepted characters are `A-Z`, `0-9` and `.`, `-`, `_`, `^`, `=`; the first character is a
/// letter, digit or `^` (index symbols such as `^GSPC`). Input is upper-cased, so `eurusd` parses
/// as `EURUSD`; a separator inside a currency pair (`EUR/USD`) is removed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    /// Parses and validates a symbol.
    ///
    /// # Errors
    /// [`DomainError::InvalidSymbol`] when the text is empty, too long or holds other characters.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let mut text = trimmed.to_ascii_uppercase();
        // "EUR/USD" is how people write pairs; the stored symbol is "EURUSD".
        if text.len() == 7 && text.as_bytes()[3] == b'/' {
            text.remove(3);
        }
        let invalid = |why: &str| DomainError::InvalidSymbol { symbol: trimmed.to_string(), reason: why.to_string() };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.len() > MAX_SYMBOL_LEN {
            return Err(invalid(&format!("it is longer than {MAX_SYMBOL_LEN} characters")));
        }
        let first = text.as_bytes()[0];
        if !(first.is_ascii_alphanumeric() || first == b'^') {
            return Err(invalid("it must start with a letter, a digit or ^"));
        }
        if let Some(bad) =
            text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '^' | '=')))
        {
            return Err(invalid(&format!("character {bad:?} is not allowed")));
        }
        Ok(Self(text))
    }

    /// The symbol text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for six-letter symbols made of two known currency codes (`EURUSD`, `XAUUSD`).
    #[must_use]
    pub fn is_currency_pair(&self) -> bool {
        self.0.len() == 6
            && CURRENCIES.contains(&&self.0[..3])
            && CURRENCIES.contains(&&self.0[3..])
            && self.0[..3] != self.0[3..]
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.0
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("EURUSD", "EURUSD")]
    #[case("eurusd", "EURUSD")]
    #[case(" usdjpy ", "USDJPY")]
    #[case("EUR/USD", "EURUSD")]
    #[case("AAPL", "AAPL")]
    #[case("BRK.B", "BRK.B")]
    #[case("^GSPC", "^GSPC")]
    #[case("EURUSD=X", "EURUSD=X")]
    fn parses_and_normalises(#[case] raw: &str, #[case] expected: &str) {
        assert_eq!(Symbol::new(raw).unwrap().as_str(), expected);
    }

    #[rstest]
    #[case("")]
    #[case("   ")]
    #[case("EUR USD")]
    #[case("EUR$USD")]
    #[case("-ABC")]
    #[case("ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
    fn rejects_invalid(#[case] raw: &str) {
        let err = Symbol::new(raw).unwrap_err();
        assert!(matches!(err, DomainError::InvalidSymbol { .. }), "{err}");
    }

    #[rstest]
    #[case("EURUSD", true)]
    #[case("USDJPY", true)]
    #[case("XAUUSD", true)]
    #[case("AAPL", false)]
    #[case("ABCDEF", false)]
    #[case("USDUSD", false)]
    fn recognises_currency_pairs(#[case] raw: &str, #[case] fx: bool) {
        assert_eq!(Symbol::new(raw).unwrap().is_currency_pair(), fx);
    }

    #[test]
    fn serde_round_trip_validates() {
        let s: Symbol = serde_json::from_str("\"gbpjpy\"").unwrap();
        assert_eq!(s.as_str(), "GBPJPY");
        assert!(serde_json::from_str::<Symbol>("\"bad symbol\"").is_err());
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"GBPJPY\"");
    }
}
