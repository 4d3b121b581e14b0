//! The command-line surface (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// axia: market data and orders for automated trading.
#[derive(Debug, Parser)]
#[command(name = "axia", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Default: `AXIA_CONFIG`, else built-in embedded defaults.
    #[arg(long, global = true, env = "AXIA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format on stderr: text, or json lines. Default: text on a terminal, json otherwise.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BarFormat {
    /// Aligned columns.
    Table,
    /// `open_time_utc,open,high,low,close,volume`.
    Csv,
    /// One JSON document with metadata.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch bars from the configured source into the storage tiers (incremental, idempotent).
    Collect(CollectArgs),
    /// Inspect and maintain stored data.
    #[command(subcommand)]
    Data(DataCommand),
    /// Print stored bars of one series.
    Fetch(FetchArgs),
    /// Inspect the Redis tier.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Run the performance scenarios of SPEC §11 on a fixed synthetic workload.
    Bench(BenchArgs),
    /// The backtest artifact store's local cache.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Create what the configuration needs and lacks (bucket, state store, kill switch, queues,
    /// topic).
    ///
    /// One idempotent step per resource: the history tier's S3 bucket (or local directory), the
    /// state store (the SQLite file and schema, or the DynamoDB table with GSI1–GSI5 and TTL),
    /// the kill switch's first state (active, version 1), the order queue and its dead-letter
    /// queue (the SQLite file, or the SQS queues with the redrive policy) and the event topic
    /// (SNS; the log needs nothing). A second run changes nothing and says so.
    Init(InitArgs),
    /// Order requests: submit them, run the order daemon, list orders and dead letters.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Positions opened by filled orders.
    #[command(subcommand)]
    Positions(PositionsCommand),
    /// The global trading switch: status, halt, reduce-only, resume, history.
    ///
    /// One state for all trading: active, reduce_only or halted. Every change needs a reason and
    /// is audited (previous state, who, why, when, version); it is written only over the version
    /// it was built from, and mirrored to Redis `system:status` when `[redis] url` is set (a
    /// Redis failure is a warning; the change stands). A state that cannot be read is halted
    /// (fail-closed).
    #[command(subcommand)]
    KillSwitch(KillSwitchCommand),
    /// Render the last N days of a series as a candlestick chart: an interactive HTML page or a
    /// PNG image (chosen by the output file's extension).
    Chart(ChartArgs),
    /// The effective configuration: print it (secrets as `***`) or check it against every
    /// configured endpoint.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `axia orders …`.
#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Put order requests on the order queue (`docs/order-request.md`), from flags or a file.
    ///
    /// Every request is checked before anything is sent (all or nothing): a request that cannot
    /// be read is a usage error (exit 2), one that breaks an order rule is refused (exit 1).
    /// Prints each client order id with its queue message id.
    Submit(Box<SubmitArgs>),
    /// The order daemon: receive, check the kill switch, execute, record, delete.
    ///
    /// Runs until SIGTERM / SIGINT (stops receiving, finishes the batch in hand, exits 0), or
    /// until the queue is empty (`--until-idle`) or N messages were processed. Beats a heartbeat
    /// (Redis `system:status` when `[redis] url` is set, and a log line) and prints one summary
    /// line at the end.
    Run(RunArgs),
    /// Stored orders, newest first.
    List {
        /// Only orders of this status (received, accepted, filled, partially_filled, rejected,
        /// cancelled, expired; `open` = received or accepted or partially filled).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Show at most N orders.
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
    },
    /// Messages in the dead-letter queue, with why they are there (oldest first where known).
    DeadLetters {
        /// Show at most N dead letters.
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
    },
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SideArg {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// Order type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderTypeArg {
    /// At the current price.
    Market,
    /// At the limit price or better.
    Limit,
    /// When the market reaches the stop price.
    Stop,
}

/// `axia orders submit`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["file", "symbol"]))]
pub struct SubmitArgs {
    /// A file of order requests, one JSON object per line (schema version 1); blank lines and
    /// lines starting with `#` are skipped. `-` reads standard input.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "side", "qty", "order_type", "limit_price", "stop_price", "sl", "tp", "trailing", "strategy", "signal",
        "client_order_id",
    ])]
    pub file: Option<PathBuf>,
    /// Symbol (one of `[orders] symbols`).
    #[arg(long, requires_all = ["side", "qty"])]
    pub symbol: Option<String>,
    /// Buy or sell.
    #[arg(long, value_enum)]
    pub side: Option<SideArg>,
    /// Quantity (lots or units), > 0.
    #[arg(long, value_name = "Q", allow_negative_numbers = true)]
    pub qty: Option<rust_decimal::Decimal>,
    /// Order type.
    #[arg(long = "type", value_enum, default_value = "market")]
    pub order_type: OrderTypeArg,
    /// Limit price (limit orders).
    #[arg(long, value_name = "P")]
    pub limit_price: Option<rust_decimal::Decimal>,
    /// Stop trigger price (stop orders).
    #[arg(long, value_name = "P")]
    pub stop_price: Option<rust_decimal::Decimal>,
    /// Stop loss price.
    #[arg(long, value_name = "P")]
    pub sl: Option<rust_decimal::Decimal>,
    /// Take profit price.
    #[arg(long, value_name = "P")]
    pub tp: Option<rust_decimal::Decimal>,
    /// Trailing stop distance, in price units.
    #[arg(long, value_name = "P")]
    pub trailing: Option<rust_decimal::Decimal>,
    /// Strategy id.
    #[arg(long, value_name = "ID")]
    pub strategy: Option<String>,
    /// Signal id.
    #[arg(long, value_name = "ID")]
    pub signal: Option<String>,
    /// The idempotency key (default: a fresh `cli-<uuid>`). The same id executes at most once.
    #[arg(long, value_name = "ID")]
    pub client_order_id: Option<String>,
    /// JSON output (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
}

/// `axia orders run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Stop when a receive finds the queue empty (for scripts and tests).
    #[arg(long)]
    pub until_idle: bool,
    /// Stop after N messages were received and processed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_messages: Option<u64>,
    /// Print the summary as JSON (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
}

/// `axia positions …`.
#[derive(Debug, Subcommand)]
pub enum PositionsCommand {
    /// Open positions (with `--all`, also the closed positions of recent orders).
    List {
        /// Only positions of this symbol.
        #[arg(long)]
        symbol: Option<String>,
        /// Closed positions too (those of the newest 10,000 orders).
        #[arg(long)]
        all: bool,
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
    },
}

/// `axia kill-switch …`.
#[derive(Debug, Subcommand)]
pub enum KillSwitchCommand {
    /// Print the effective state: state, reason, who, when, version.
    ///
    /// When the stored state cannot be read (never initialised, corrupt, store unreachable),
    /// print the fail-closed halted state with the cause and exit 1.
    Status {
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
    },
    /// Halt trading: no order executes.
    Halt(KillSwitchChangeArgs),
    /// Reduce-only: only orders that reduce an open position execute.
    ReduceOnly(KillSwitchChangeArgs),
    /// Resume trading: every valid order executes.
    Resume(KillSwitchChangeArgs),
    /// The audit trail of changes, newest first.
    History {
        /// Show at most N changes.
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
    },
}

/// `axia kill-switch halt | reduce-only | resume`.
#[derive(Debug, Args)]
pub struct KillSwitchChangeArgs {
    /// Why (required; recorded in the audit trail).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Who makes the change (default: `$USER@hostname`).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// JSON output (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
}

/// `axia init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Print `{"steps": […], "ok": …}` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `axia bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Run only this scenario (default: all of them; an unknown name lists the known ones).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Print `{"scenarios": {…}}` as JSON (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
    /// Measured iterations of every scenario run (default per scenario; a run of `l1_get_24h` is
    /// 1,000 gets, a run of `orders_embedded` 200 orders).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: Option<u32>,
}

/// `axia artifacts …`.
#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// Delete every cached copy of S3 artifacts (`[storage] local_cache_path`); the next reads
    /// fetch again. Nothing in S3 is touched.
    ClearCache {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `axia cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// The provider's cumulative stats (requests, hits, misses, errors, hit rate and latency
    /// percentiles per tier) and, with Redis, its memory against the budget (OK / WARNING /
    /// CRITICAL; exit 1 when CRITICAL), key count, and bars, first/last bar and TTL of every
    /// series.
    Stats {
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
        /// The counters in the Prometheus text format.
        #[arg(long, conflicts_with = "json")]
        prometheus: bool,
    },
}

/// `axia collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Symbols, comma-separated (default from `[collector] symbols`).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Option<Vec<String>>,
    /// Timeframes, comma-separated (default from `[collector] timeframes`).
    #[arg(long, value_delimiter = ',')]
    pub timeframes: Option<Vec<String>>,
    /// Backfill start (UTC: `2025-01-06`, `2025-01-06T09:00:00Z`, …); with `--to`, ignores what is stored.
    #[arg(long)]
    pub from: Option<String>,
    /// Backfill end, exclusive (default: the bar in progress).
    #[arg(long)]
    pub to: Option<String>,
    /// Source name or comma-separated fallback list, tried in order per task (default from
    /// `[collector] source`): `synthetic`, `sample`, `yahoo`, `mt5_bridge` (e.g. `mt5_bridge,yahoo`).
    #[arg(long)]
    pub source: Option<String>,
    /// Print the summary as JSON (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
    /// Metric lines: `emf` prints one CloudWatch embedded-metric-format line to stderr (default
    /// from `[collector] metrics`).
    #[arg(long, value_enum)]
    pub metrics: Option<crate::metrics::MetricsFormat>,
}

/// `axia data …`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Import a bar file (CSV, pandas export or MetaTrader export). All or nothing.
    Import(ImportArgs),
    /// Coverage per stored series: first, last, rows, gaps.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Missing trading bars of one series (regular market closures are not gaps).
    Gaps {
        /// Symbol.
        symbol: String,
        /// Timeframe.
        timeframe: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Resample a stored series into a coarser timeframe and store it.
    Resample(ResampleArgs),
    /// Check every object against the manifest (size, md5, orphans); exit 1 naming each problem.
    Verify(VerifyArgs),
    /// Merge daily M1/M5 partitions older than a cutoff into monthly archives, verify each
    /// archive, and only then delete the originals. Reads return the same bars afterwards.
    Compact {
        /// Keep daily partitions younger than this (`7d`, `36h`).
        #[arg(long, default_value = "7d")]
        older_than: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Fill Redis from the history tier with the last 24 h of every stored series (or of the
    /// given symbols / timeframes). Only bars Redis lacks are written: nothing newer is replaced.
    Warmup {
        /// Symbols, comma-separated (default: every stored series).
        #[arg(long, value_delimiter = ',')]
        symbols: Option<Vec<String>>,
        /// Timeframes, comma-separated (default: every stored series).
        #[arg(long, value_delimiter = ',')]
        timeframes: Option<Vec<String>>,
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
    },
}

/// `axia data verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also check that every series covering this UTC date (YYYY-MM-DD) holds bars on it, where
    /// its market calendar expects some (seed 001's backup check).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Add orphan objects and fix wrong entries from the objects themselves (a corrupt object
    /// is reported, never added); rebuild a missing or corrupt manifest.
    #[arg(long)]
    pub repair: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `axia data import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file.
    pub file: PathBuf,
    /// Symbol of the bars.
    #[arg(long)]
    pub symbol: String,
    /// Timeframe of the bars.
    #[arg(long)]
    pub timeframe: String,
    /// File format: auto, csv or mt5.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Time zone of the file's timestamps: UTC, ny-close, or an offset like +02:00.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
}

/// `axia data resample`.
#[derive(Debug, Args)]
pub struct ResampleArgs {
    /// Symbol.
    pub symbol: String,
    /// Stored timeframe to read.
    #[arg(long)]
    pub from: String,
    /// Coarser timeframe to write.
    #[arg(long)]
    pub to: String,
    /// Only bars from this time (UTC).
    #[arg(long)]
    pub from_time: Option<String>,
    /// Only bars before this time (UTC).
    #[arg(long)]
    pub to_time: Option<String>,
}

/// `axia fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Symbol.
    pub symbol: String,
    /// Timeframe.
    pub timeframe: String,
    /// The last N hours.
    #[arg(long, conflicts_with_all = ["days", "from", "to"])]
    pub hours: Option<u32>,
    /// The last N days.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub days: Option<u32>,
    /// Range start (UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// Range end, exclusive (UTC).
    #[arg(long)]
    pub to: Option<String>,
    /// What the bars are for: `trading` and `chart` read recent bars from Redis first (when
    /// configured) and the rest from the history tier; `analysis` reads the history tier only.
    #[arg(long, value_enum, default_value = "chart")]
    pub use_case: UseCase,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: BarFormat,
}

/// What a read is for (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UseCase {
    /// Latest bars, lowest latency.
    Trading,
    /// Recent days for a chart.
    Chart,
    /// Long history for research.
    Analysis,
}

/// `axia chart`.
#[derive(Debug, Args)]
pub struct ChartArgs {
    /// Symbol.
    pub symbol: String,
    /// Timeframe.
    pub timeframe: String,
    /// The last N days before the end (`--to`, else now, or where the configured source's
    /// replayed market ends when that is earlier).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..), conflicts_with_all = ["hours", "from"])]
    pub days: u32,
    /// The last N hours before the end, instead of days.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "from")]
    pub hours: Option<u32>,
    /// Range start (UTC), instead of the last days.
    #[arg(long)]
    pub from: Option<String>,
    /// Range end, exclusive (UTC).
    #[arg(long)]
    pub to: Option<String>,
    /// The chart file: `.html` / `.htm` (interactive page) or `.png` (image). Written whole or
    /// not at all.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// PNG width in pixels.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// PNG height in pixels.
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// What the bars are for (as `axia fetch`): `chart` and `trading` read recent bars from Redis
    /// first; `analysis` reads the history tier only.
    #[arg(long, value_enum, default_value = "chart")]
    pub use_case: UseCase,
}

/// `axia config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults, then the file, then `AXIA_*` variables) as
    /// TOML, with every secret (`[redis] password`, `[sources.mt5_bridge] token`, any key named
    /// *password*, *token* or *secret*) as `***` and URLs without their credentials.
    Show {
        /// JSON instead of TOML (unset options are `null`).
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration and try every configured endpoint, one line each (`ok` or
    /// `FAILED: <reason> — check <what>`): the history tier, Redis, the state store, the queue
    /// and its DLQ, the events topic, the sources of `[collector] source` and the broker. Each
    /// check is bounded by a timeout; exit 1 when any fails.
    Check {
        /// Print `{"checks": [{"name", "target", "ok", "error", "hint"}], "ok"}` as JSON (the
        /// default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
    },
}
