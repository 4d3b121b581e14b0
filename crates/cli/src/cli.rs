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
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: BarFormat,
}
