//! The order side of the configuration: `[queue]` (the order request queue), `[events]` (where
//! system events go), `[broker]` (where orders execute) and `[orders]` (what the daemon accepts
//! and how it runs).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use axia_adapters::events::SnsSettings;
use axia_adapters::paper::PaperBrokerConfig;
use axia_adapters::queue::{SqliteQueueSettings, SqsSettings};
use axia_domain::Symbol;
use serde::{Deserialize, Serialize};

use super::{AwsSection, CollectorConfig, SourcesSection, StorageConfig, non_empty};

/// `[queue]`: the order request queue. Every key can be set by env, e.g.
/// `AXIA_QUEUE__BACKEND=sqs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    /// `sqlite` (the embedded default: one file) or `sqs`.
    pub backend: String,
    /// The SQLite file. Default: `queue.db` in the local data directory (`[storage]
    /// base_path`), beside `state.db`.
    pub sqlite_path: Option<PathBuf>,
    /// The SQS queue; its region and endpoint come from `[aws]` (or the AWS default chain and
    /// `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL`).
    pub sqs_queue_name: String,
    /// The SQS dead-letter queue. Default: `<sqs_queue_name>-dlq`.
    pub sqs_dlq_name: Option<String>,
    /// Receives after which a message moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// How long a received message stays invisible, seconds (extended while it is worked on).
    pub visibility_timeout_secs: u64,
    /// Long-poll wait of a receive, seconds (0 to 20).
    pub wait_secs: u64,
    /// Messages per receive (1 to 10).
    pub batch_size: usize,
}

impl Default for QueueSection {
    fn default() -> Self {
        Self {
            backend: "sqlite".into(),
            sqlite_path: None,
            sqs_queue_name: DEFAULT_SQS_QUEUE.into(),
            sqs_dlq_name: None,
            max_receive_count: 5,
            visibility_timeout_secs: 60,
            wait_secs: 20,
            batch_size: 10,
        }
    }
}

/// The default `[queue] sqs_queue_name`.
pub const DEFAULT_SQS_QUEUE: &str = "axia-orders";

/// Where the order queue lives, as `[queue]`, `[storage]` and `[aws]` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueBackend {
    /// A SQLite file with these settings.
    Sqlite(PathBuf, SqliteQueueSettings),
    /// An SQS queue and its dead-letter queue.
    Sqs(SqsSettings),
}

impl QueueSection {
    /// The visibility timeout.
    #[must_use]
    pub const fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.visibility_timeout_secs)
    }

    /// The long-poll wait.
    #[must_use]
    pub const fn wait(&self) -> Duration {
        Duration::from_secs(self.wait_secs)
    }

    /// The queue backend; the SQLite file defaults to `queue.db` under `storage.base_path`.
    ///
    /// # Errors
    /// An unknown backend, a blank path, an invalid queue name or endpoint, or a setting out of
    /// range.
    pub fn backend(&self, storage: &StorageConfig, aws: &AwsSection) -> anyhow::Result<QueueBackend> {
        if self.max_receive_count == 0 || self.max_receive_count > 1000 {
            bail!("[queue] max_receive_count must be 1 to 1000 (SQS redrive limit)");
        }
        if !(1..=43_200).contains(&self.visibility_timeout_secs) {
            bail!("[queue] visibility_timeout_secs must be 1 to 43200 (12 h, the SQS limit)");
        }
        if self.wait_secs > 20 {
            bail!("[queue] wait_secs must be 0 to 20 (the SQS long-poll limit)");
        }
        if !(1..=10).contains(&self.batch_size) {
            bail!("[queue] batch_size must be 1 to 10 (the SQS limit)");
        }
        match self.backend.as_str() {
            "sqlite" => {
                let path = match &self.sqlite_path {
                    Some(path) if path.as_os_str().is_empty() => {
                        bail!("[queue] sqlite_path is empty: leave it unset for <[storage] base_path>/queue.db")
                    }
                    Some(path) => path.clone(),
                    None => storage.base_path.join("queue.db"),
                };
                let settings = SqliteQueueSettings {
                    visibility_timeout: self.visibility_timeout(),
                    max_receive_count: self.max_receive_count,
                    ..SqliteQueueSettings::default()
                };
                Ok(QueueBackend::Sqlite(path, settings))
            }
            "sqs" => {
                let queue = self.sqs_queue_name.trim();
                check_queue_name("sqs_queue_name", queue)?;
                let mut settings = SqsSettings::new(queue);
                if let Some(dlq) = non_empty(self.sqs_dlq_name.as_deref()) {
                    check_queue_name("sqs_dlq_name", &dlq)?;
                    settings.dlq_name = dlq;
                } else {
                    check_queue_name("sqs_dlq_name", &settings.dlq_name)?;
                }
                if settings.dlq_name == settings.queue_name {
                    bail!("[queue] sqs_dlq_name must differ from sqs_queue_name");
                }
                Ok(QueueBackend::Sqs(SqsSettings {
                    region: aws.region(),
                    endpoint_url: aws.endpoint_for("AWS_ENDPOINT_URL_SQS")?,
                    visibility_timeout: self.visibility_timeout(),
                    max_receive_count: self.max_receive_count,
                    ..settings
                }))
            }
            other => bail!("[queue] backend = {other:?}: use \"sqlite\" or \"sqs\" (AXIA_QUEUE__BACKEND)"),
        }
    }
}

/// SQS's queue naming rules (standard queues), checked before any request.
fn check_queue_name(key: &str, name: &str) -> anyhow::Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    if !(1..=80).contains(&name.len()) || !name.chars().all(allowed) {
        bail!("[queue] {key} = {name:?} is not a valid SQS queue name (1 to 80 letters, digits, '_' and '-')");
    }
    Ok(())
}

/// `[events]`: where system events (fills, rejections, kill-switch changes, errors, heartbeats)
/// go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsSection {
    /// `log` (the embedded default: one log line per event) or `sns`.
    pub backend: String,
    /// The SNS topic; region and endpoint from `[aws]` (or `AWS_ENDPOINT_URL_SNS` /
    /// `AWS_ENDPOINT_URL`).
    pub sns_topic_name: String,
}

impl Default for EventsSection {
    fn default() -> Self {
        Self { backend: "log".into(), sns_topic_name: DEFAULT_SNS_TOPIC.into() }
    }
}

/// The default `[events] sns_topic_name`.
pub const DEFAULT_SNS_TOPIC: &str = "axia-events";

/// Where events go, as `[events]` and `[aws]` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsBackend {
    /// Log lines (target `axia::events`).
    Log,
    /// An SNS topic.
    Sns(SnsSettings),
}

impl EventsSection {
    /// The events backend.
    ///
    /// # Errors
    /// An unknown backend, an invalid topic name or endpoint.
    pub fn backend(&self, aws: &AwsSection) -> anyhow::Result<EventsBackend> {
        match self.backend.as_str() {
            "log" => Ok(EventsBackend::Log),
            "sns" => {
                let topic = self.sns_topic_name.trim();
                let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
                if !(1..=256).contains(&topic.len()) || !topic.chars().all(allowed) {
                    bail!(
                        "[events] sns_topic_name = {topic:?} is not a valid SNS topic name (1 to 256 letters, \
                         digits, '_' and '-')"
                    );
                }
                Ok(EventsBackend::Sns(SnsSettings {
                    region: aws.region(),
                    endpoint_url: aws.endpoint_for("AWS_ENDPOINT_URL_SNS")?,
                    ..SnsSettings::new(topic)
                }))
            }
            other => bail!("[events] backend = {other:?}: use \"log\" or \"sns\" (AXIA_EVENTS__BACKEND)"),
        }
    }
}

/// `[broker]`: where orders execute: the paper broker (settings `[broker.paper]`, e.g.
/// `AXIA_BROKER__PAPER__MAX_PRICE_AGE_SECS=600`) or the MT5 bridge (reached with the
/// `[sources.mt5_bridge]` settings, `docs/mt5-bridge.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerSection {
    /// `paper` (fills against the stored bars, `docs/paper-broker.md`) or `mt5_bridge` (a
    /// MetaTrader 5 terminal behind the bridge of `[sources.mt5_bridge]`).
    pub backend: String,
    /// The paper broker's settings.
    pub paper: PaperBrokerConfig,
}

impl Default for BrokerSection {
    fn default() -> Self {
        Self { backend: "paper".into(), paper: PaperBrokerConfig::default() }
    }
}

/// The broker `[broker] backend` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerBackend {
    /// The paper broker.
    Paper,
    /// The MT5 bridge of `[sources.mt5_bridge]`.
    Mt5Bridge,
}

impl BrokerSection {
    /// Checks the backend name and the paper settings; `mt5_bridge` needs
    /// `[sources.mt5_bridge] url`.
    ///
    /// # Errors
    /// Another backend than `paper` or `mt5_bridge`; `mt5_bridge` without a bridge URL or with
    /// invalid bridge settings; a negative spread or slippage.
    pub(super) fn validate(&self, sources: &SourcesSection) -> anyhow::Result<()> {
        if self.kind()? == BrokerBackend::Mt5Bridge && sources.mt5_bridge.settings()?.is_none() {
            bail!(
                "[broker] backend = \"mt5_bridge\" needs [sources.mt5_bridge] url (or \
                 AXIA_SOURCES__MT5_BRIDGE__URL), e.g. http://10.0.0.5:8787"
            );
        }
        if self.paper.spread.is_sign_negative() || self.paper.slippage.is_sign_negative() {
            bail!("[broker.paper] spread and slippage must not be negative");
        }
        Ok(())
    }

    /// The backend `backend` names.
    ///
    /// # Errors
    /// Another name than `paper` or `mt5_bridge`.
    pub fn kind(&self) -> anyhow::Result<BrokerBackend> {
        match self.backend.trim() {
            "paper" => Ok(BrokerBackend::Paper),
            "mt5_bridge" => Ok(BrokerBackend::Mt5Bridge),
            other => bail!("[broker] backend = {other:?}: use \"paper\" or \"mt5_bridge\" (AXIA_BROKER__BACKEND)"),
        }
    }
}

/// `[orders]`: what the order daemon accepts and how it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersSection {
    /// The symbols orders may trade (others are rejected). Default: `[collector] symbols`.
    pub symbols: Option<Vec<String>>,
    /// How often `axia orders run` beats its heartbeat, seconds.
    pub heartbeat_secs: u64,
    /// How often `axia orders run` feeds new bars of symbols with open positions or resting
    /// orders to the paper broker and the exit manager, seconds (0: never).
    pub bars_every_secs: u64,
    /// Where `axia orders run` serves `GET /metrics` (Prometheus text), e.g. `127.0.0.1:9464`;
    /// unset (default): no listener.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `emf`: one CloudWatch embedded-metric-format line per heartbeat on stderr; `off` (default).
    pub metrics: crate::metrics::MetricsFormat,
}

impl Default for OrdersSection {
    fn default() -> Self {
        Self {
            symbols: None,
            heartbeat_secs: 30,
            bars_every_secs: 5,
            metrics_listen: None,
            metrics: crate::metrics::MetricsFormat::Off,
        }
    }
}

impl OrdersSection {
    /// The known symbols, validated: `symbols`, else the collector's.
    ///
    /// # Errors
    /// An invalid symbol, or an empty list.
    pub fn symbols(&self, collector: &CollectorConfig) -> anyhow::Result<Vec<Symbol>> {
        let (key, list) = match &self.symbols {
            Some(list) => ("[orders] symbols", list),
            None => ("[collector] symbols", &collector.symbols),
        };
        if list.is_empty() {
            bail!("{key} is empty: orders need at least one known symbol");
        }
        list.iter().map(|s| Symbol::new(s).with_context(|| format!("{key}: {s:?}"))).collect()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error.
mod tests {
    use crate::metrics::MetricsFormat;
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    #[test]
    fn queue_defaults_to_sqlite_beside_the_state_store() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("AXIA_HOME", "/srv/axia");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let QueueBackend::Sqlite(path, settings) = c.queue.backend(&c.storage, &c.aws).unwrap() else {
                panic!("not sqlite")
            };
            assert_eq!(path, PathBuf::from("/srv/axia/queue.db"));
            assert_eq!((settings.visibility_timeout, settings.max_receive_count), (Duration::from_secs(60), 5));
            assert_eq!((c.queue.wait_secs, c.queue.batch_size), (20, 10));
            jail.set_env("AXIA_QUEUE__SQLITE_PATH", "/var/lib/axia/q.db");
            jail.set_env("AXIA_QUEUE__VISIBILITY_TIMEOUT_SECS", "30");
            jail.set_env("AXIA_QUEUE__MAX_RECEIVE_COUNT", "3");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let QueueBackend::Sqlite(path, settings) = c.queue.backend(&c.storage, &c.aws).unwrap() else {
                panic!("not sqlite")
            };
            assert_eq!(path, PathBuf::from("/var/lib/axia/q.db"));
            assert_eq!((settings.visibility_timeout, settings.max_receive_count), (Duration::from_secs(30), 3));
            Ok(())
        });
    }

    #[test]
    fn queue_on_sqs_with_the_aws_section_and_a_default_dlq() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("axia.toml", "[queue]\nbackend = \"sqs\"\n[aws]\nregion = \"eu-west-1\"\n")?;
            jail.set_env("AXIA_AWS__ENDPOINT_URL", "http://127.0.0.1:4566");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let QueueBackend::Sqs(sqs) = c.queue.backend(&c.storage, &c.aws).unwrap() else { panic!("not sqs") };
            assert_eq!((sqs.queue_name.as_str(), sqs.dlq_name.as_str()), ("axia-orders", "axia-orders-dlq"));
            assert_eq!(
                (sqs.region.as_deref(), sqs.endpoint_url.as_deref()),
                (Some("eu-west-1"), Some("http://127.0.0.1:4566"))
            );
            jail.set_env("AXIA_QUEUE__SQS_QUEUE_NAME", "prod-orders");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let QueueBackend::Sqs(sqs) = c.queue.backend(&c.storage, &c.aws).unwrap() else { panic!("not sqs") };
            assert_eq!(sqs.dlq_name, "prod-orders-dlq", "the DLQ follows the queue name");
            jail.set_env("AXIA_QUEUE__SQS_DLQ_NAME", "orders-dead");
            jail.set_env("AXIA_QUEUE__MAX_RECEIVE_COUNT", "2");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let QueueBackend::Sqs(sqs) = c.queue.backend(&c.storage, &c.aws).unwrap() else { panic!("not sqs") };
            assert_eq!((sqs.dlq_name.as_str(), sqs.max_receive_count), ("orders-dead", 2));
            Ok(())
        });
    }

    #[rstest::rstest]
    #[case::backend("AXIA_QUEUE__BACKEND", "kafka", "\"sqlite\" or \"sqs\"")]
    #[case::queue_name("AXIA_QUEUE__SQS_QUEUE_NAME", "bad name", "not a valid SQS queue name")]
    #[case::batch("AXIA_QUEUE__BATCH_SIZE", "11", "batch_size")]
    #[case::wait("AXIA_QUEUE__WAIT_SECS", "21", "wait_secs")]
    #[case::receives("AXIA_QUEUE__MAX_RECEIVE_COUNT", "0", "max_receive_count")]
    #[case::visibility("AXIA_QUEUE__VISIBILITY_TIMEOUT_SECS", "0", "visibility_timeout_secs")]
    #[case::events("AXIA_EVENTS__BACKEND", "kinesis", "\"log\" or \"sns\"")]
    #[case::topic("AXIA_EVENTS__SNS_TOPIC_NAME", "a/b", "not a valid SNS topic name")]
    #[case::broker("AXIA_BROKER__BACKEND", "ib", "\"paper\" or \"mt5_bridge\"")]
    #[case::bridge_url("AXIA_BROKER__BACKEND", "mt5_bridge", "needs [sources.mt5_bridge] url")]
    #[case::symbols("AXIA_ORDERS__SYMBOLS", "[\"EUR USD!\"]", "[orders] symbols")]
    fn order_sections_refuse_bad_values(#[case] key: &str, #[case] value: &str, #[case] says: &str) {
        figment::Jail::expect_with(|jail| {
            jail.set_env("AXIA_QUEUE__BACKEND", "sqs");
            jail.set_env("AXIA_EVENTS__BACKEND", "sns");
            jail.set_env(key, value);
            let err = format!("{:#}", Config::load(None).unwrap_err());
            assert!(err.contains(says), "{key}={value}: {err}");
            Ok(())
        });
    }

    #[test]
    fn metrics_keys_are_off_by_default_and_set_by_file_or_env() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!((c.orders.metrics_listen, c.orders.metrics), (None, MetricsFormat::Off));
            assert_eq!(c.collector.metrics, MetricsFormat::Off);
            jail.create_file(
                "axia.toml",
                "[orders]\nmetrics_listen = \"127.0.0.1:9464\"\n[collector]\nmetrics = \"emf\"\n",
            )?;
            jail.set_env("AXIA_ORDERS__METRICS", "emf");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.orders.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
            assert_eq!((c.orders.metrics, c.collector.metrics), (MetricsFormat::Emf, MetricsFormat::Emf));
            jail.set_env("AXIA_ORDERS__METRICS_LISTEN", "localhost");
            let err = format!("{:#}", Config::load(None).unwrap_err()).to_lowercase();
            assert!(err.contains("metrics_listen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn events_broker_and_orders_sections() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.events.backend(&c.aws).unwrap(), EventsBackend::Log);
            assert_eq!(c.broker.paper, PaperBrokerConfig::default());
            let symbols = c.orders.symbols(&c.collector).unwrap();
            assert_eq!(symbols.len(), 5, "default: the collector's symbols");
            jail.create_file(
                "axia.toml",
                "[events]\nbackend = \"sns\"\n[broker.paper]\nmax_price_age_secs = 600\nspread = \"0.0002\"\n\
                 [orders]\nsymbols = [\"eurusd\", \"AAPL\"]\n",
            )?;
            jail.set_env("AXIA_BROKER__PAPER__SLIPPAGE", "0.0001");
            jail.set_env("AXIA_EVENTS__SNS_TOPIC_NAME", "ops-events");
            jail.set_env("AXIA_AWS__REGION", "us-east-1");
            let c = Config::load(Some(Path::new("axia.toml"))).map_err(|e| e.to_string())?;
            let EventsBackend::Sns(sns) = c.events.backend(&c.aws).unwrap() else { panic!("not sns") };
            assert_eq!((sns.topic_name.as_str(), sns.region.as_deref()), ("ops-events", Some("us-east-1")));
            assert_eq!(c.broker.paper.max_price_age_secs, 600);
            assert_eq!(c.broker.paper.spread, rust_decimal::Decimal::new(2, 4));
            assert_eq!(c.broker.paper.slippage, rust_decimal::Decimal::new(1, 4));
            let symbols: Vec<String> =
                c.orders.symbols(&c.collector).unwrap().iter().map(|s| s.as_str().to_owned()).collect();
            assert_eq!(symbols, ["EURUSD", "AAPL"]);
            jail.create_file("bad.toml", "[broker.paper]\nmax_age = 1\n")?;
            let err = format!("{:#}", Config::load(Some(Path::new("bad.toml"))).unwrap_err());
            assert!(err.contains("max_age"), "{err}");
            Ok(())
        });
    }
}
