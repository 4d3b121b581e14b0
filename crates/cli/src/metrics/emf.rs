//! CloudWatch embedded metric format (EMF): one JSON object per line whose `_aws` member tells
//! CloudWatch Logs which root members are metrics
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//!
//! ```json
//! {"_aws":{"Timestamp":1756771200000,"CloudWatchMetrics":[{"Namespace":"axia",
//!   "Dimensions":[["Command"]],"Metrics":[{"Name":"Stored","Unit":"Count"}]}]},
//!  "Command":"collect","Stored":3}
//! ```

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every axia metric.
pub const NAMESPACE: &str = "axia";

/// The unit of a metric, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
}

impl Unit {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// The metric name (`Stored`, `DurationMs`, …).
    pub name: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// Its value.
    pub value: f64,
}

impl Metric {
    /// A count.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub const fn count(name: &'static str, value: u64) -> Self {
        Self { name, unit: Unit::Count, value: value as f64 }
    }
}

/// The EMF document of one run of `command` at `at`, with the dimension `Command`.
#[must_use]
pub fn document(command: &str, at: DateTime<Utc>, metrics: &[Metric]) -> Value {
    let names: Vec<Value> = metrics.iter().map(|m| json!({ "Name": m.name, "Unit": m.unit.as_str() })).collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [["Command"]], "Metrics": names }],
        }),
    );
    root.insert("Command".into(), json!(command));
    for m in metrics {
        root.insert(m.name.into(), json!(m.value));
    }
    Value::Object(root)
}

/// Writes the document as one line to stderr (where the log shipper reads it; stdout stays the
/// command's output).
pub fn emit(command: &str, at: DateTime<Utc>, metrics: &[Metric]) {
    let line = document(command, at, metrics);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn emf_documents_declare_every_metric_and_carry_its_value() {
        let at = Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).unwrap();
        let doc = document(
            "collect",
            at,
            &[Metric::count("Stored", 3), Metric { name: "DurationMs", unit: Unit::Milliseconds, value: 12.5 }],
        );
        let aws = &doc["_aws"];
        assert_eq!(aws["Timestamp"], json!(1_756_771_200_000_i64));
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "axia");
        assert_eq!(directive["Dimensions"], json!([["Command"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "Stored", "Unit": "Count" }, { "Name": "DurationMs", "Unit": "Milliseconds" }])
        );
        assert_eq!(
            (doc["Command"].as_str(), doc["Stored"].as_f64(), doc["DurationMs"].as_f64()),
            (Some("collect"), Some(3.0), Some(12.5))
        );
        assert!(!doc.to_string().contains('\n'), "one line");
    }
}
