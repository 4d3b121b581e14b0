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
    /// Create what the configuration needs and lacks (the S3 bucket of the history tier).
    Init(InitArgs),
}

/// `axia init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Print `{"steps": […]}` as JSON.
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
    /// Measured iterations of every scenario run (default per scenario; for `l1_get_24h`, batches
    /// of 1,000 gets).
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
    /// Memory used against the budget (OK / WARNING / CRITICAL; exit 1 when CRITICAL), key
    /// count, and bars, first/last bar and TTL of every series.
    Stats {
        /// JSON output (the default when stdout is not a terminal).
        #[arg(long)]
        json: bool,
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
    /// Source name (default from `[collector] source`): `synthetic` or `sample`.
    #[arg(long)]
    pub source: Option<String>,
    /// Print the summary as JSON (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
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
