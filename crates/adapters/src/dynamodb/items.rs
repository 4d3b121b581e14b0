//! Items and conditions: attribute values in and out, JSON documents, and the write conditions
//! with the explanation of a failed one.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use axia_domain::ports::RepositoryError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::{PK, SK, STATUS, VERSION};

/// A DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub(super) fn n(value: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}

/// The key of an item.
pub(super) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// A string attribute of `item`; missing or of another type is corrupt.
pub(super) fn get_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str, RepositoryError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        Some(other) => Err(RepositoryError::corrupt(what, format!("attribute {name} is not a string: {other:?}"))),
        None => Err(RepositoryError::corrupt(what, format!("attribute {name} is missing"))),
    }
}

/// A non-negative integer attribute of `item`; missing or of another type is corrupt.
pub(super) fn get_u64(item: &Item, name: &str, what: &str) -> Result<u64, RepositoryError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => {
            v.parse().map_err(|_| RepositoryError::corrupt(what, format!("attribute {name} = {v} is not a count")))
        }
        Some(other) => Err(RepositoryError::corrupt(what, format!("attribute {name} is not a number: {other:?}"))),
        None => Err(RepositoryError::corrupt(what, format!("attribute {name} is missing"))),
    }
}

/// The JSON document of a domain value.
pub(super) fn encode<T: Serialize>(what: &str, value: &T) -> Result<AttributeValue, RepositoryError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|e| RepositoryError::Invalid { detail: format!("{what} cannot be encoded: {e}") })
}

/// Decodes the `doc` attribute; a failure is [`RepositoryError::Corrupt`] naming the item.
pub(super) fn decode<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T, RepositoryError> {
    let doc = get_s(item, super::keys::DOC, what)?;
    serde_json::from_str(doc).map_err(|e| RepositoryError::corrupt(what, e))
}

/// A condition expression with its names and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Expr {
    pub(super) text: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The names, or `None` when there are none (DynamoDB refuses an empty map).
    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values, or `None` when there are none.
    pub(super) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// What must hold for a write to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Condition {
    /// Always applies.
    Always,
    /// The item must not exist.
    Absent,
    /// The stored version must be this one (a missing item fails).
    Version(u64),
    /// The stored version must be `version` and the stored status one of `from`.
    VersionAndStatus {
        /// Expected version.
        version: u64,
        /// Statuses the new one may follow.
        from: Vec<&'static str>,
        /// The new status, for messages.
        to: &'static str,
    },
}

impl Condition {
    /// The expression, `None` for [`Condition::Always`].
    pub(super) fn expr(&self) -> Option<Expr> {
        let mut e = Expr::default();
        match self {
            Self::Always => return None,
            Self::Absent => {
                e.text = "attribute_not_exists(#pk)".into();
                e.names.insert("#pk".into(), PK.into());
            }
            Self::Version(v) => {
                e.text = "#version = :expected".into();
                e.names.insert("#version".into(), VERSION.into());
                e.values.insert(":expected".into(), n(*v));
            }
            Self::VersionAndStatus { version, from, .. } => {
                let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
                e.text = if from.is_empty() {
                    // Nothing may precede the new status: a condition no item meets.
                    "#version = :expected AND attribute_not_exists(#version)".into()
                } else {
                    format!("#version = :expected AND #status IN ({})", placeholders.join(", "))
                };
                e.names.insert("#version".into(), VERSION.into());
                if !from.is_empty() {
                    e.names.insert("#status".into(), STATUS.into());
                }
                e.values.insert(":expected".into(), n(*version));
                for (p, status) in placeholders.into_iter().zip(from) {
                    e.values.insert(p, s(*status));
                }
            }
        }
        Some(e)
    }

    /// Why the condition failed, from the stored item DynamoDB returned (`ALL_OLD`), or `None`
    /// when it does not exist.
    pub(super) fn explain(&self, old: Option<&Item>) -> String {
        let stored_version = old.and_then(|i| match i.get(VERSION) {
            Some(AttributeValue::N(v)) => Some(v.clone()),
            _ => None,
        });
        match (self, old, stored_version) {
            (Self::Always, ..) => "the write was refused".into(),
            (Self::Absent, None, _) => "it exists".into(),
            (Self::Absent, Some(_), Some(v)) => format!("it exists (version {v})"),
            (Self::Absent, Some(_), None) => "it exists".into(),
            (Self::Version(e) | Self::VersionAndStatus { version: e, .. }, None, _) => {
                format!("expected version {e}, but it does not exist")
            }
            (Self::Version(e) | Self::VersionAndStatus { version: e, .. }, Some(_), Some(v)) if v != e.to_string() => {
                format!("expected version {e}, stored version {v}")
            }
            (Self::VersionAndStatus { to, .. }, Some(item), _) => match item.get(STATUS) {
                Some(AttributeValue::S(from)) => format!("the stored order is {from}, it cannot become {to}"),
                _ => format!("the stored status cannot become {to}"),
            },
            (Self::Version(_), Some(_), _) => "it changed during the write".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn stored(version: u64, status: &str) -> Item {
        HashMap::from([(VERSION.to_string(), n(version)), (STATUS.to_string(), s(status))])
    }

    #[test]
    fn expressions_name_only_what_they_use() {
        assert_eq!(Condition::Always.expr(), None);
        let absent = Condition::Absent.expr().unwrap();
        assert_eq!((absent.text.as_str(), absent.values()), ("attribute_not_exists(#pk)", None));
        let guarded =
            Condition::VersionAndStatus { version: 2, from: vec!["accepted", "partially_filled"], to: "filled" };
        let e = guarded.expr().unwrap();
        assert_eq!(e.text, "#version = :expected AND #status IN (:from0, :from1)");
        assert_eq!(e.values.len(), 3);
        assert_eq!(e.values[":from1"], s("partially_filled"));
        let never = Condition::VersionAndStatus { version: 2, from: vec![], to: "received" }.expr().unwrap();
        assert!(!never.names.contains_key("#status") && !never.text.contains("#status"), "{never:?}");
    }

    #[rstest]
    #[case(Condition::Absent, Some(stored(3, "x")), "it exists (version 3)")]
    #[case(Condition::Version(2), None, "expected version 2, but it does not exist")]
    #[case(Condition::Version(2), Some(stored(5, "x")), "expected version 2, stored version 5")]
    #[case(
        Condition::VersionAndStatus { version: 2, from: vec!["accepted"], to: "filled" },
        Some(stored(2, "filled")),
        "the stored order is filled, it cannot become filled"
    )]
    fn explains_failed_conditions(#[case] c: Condition, #[case] old: Option<Item>, #[case] text: &str) {
        assert_eq!(c.explain(old.as_ref()), text);
    }

    #[test]
    fn reads_attributes_or_reports_corruption() {
        let item = stored(4, "open");
        assert_eq!(get_u64(&item, VERSION, "x").unwrap(), 4);
        assert_eq!(get_s(&item, STATUS, "x").unwrap(), "open");
        assert!(matches!(get_s(&item, VERSION, "x"), Err(RepositoryError::Corrupt { .. })));
        assert!(matches!(get_u64(&item, "nope", "x"), Err(RepositoryError::Corrupt { .. })));
        let bad = HashMap::from([(VERSION.to_string(), AttributeValue::N("-1".into()))]);
        assert!(matches!(get_u64(&bad, VERSION, "x"), Err(RepositoryError::Corrupt { .. })));
        let doc = HashMap::from([(super::super::keys::DOC.to_string(), s("{not json"))]);
        assert!(matches!(decode::<u32>(&doc, "x"), Err(RepositoryError::Corrupt { .. })));
    }
}
