//! The `axia` command: one binary for the collector, the data tools, the kill switch and the
//! order daemon. `main` only parses arguments, loads configuration, wires adapters
//! and maps errors to exit codes (0 ok, 1 job failed, 2 usage or configuration error).

#[macro_use]
mod output;
mod bench;
mod chart;
mod cli;
mod cmd;
mod config;
mod error;
mod metrics;
mod prices;
mod progress;
mod state;
mod stats_file;
mod timearg;
mod trading;
mod wiring;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, LogFormat};
use crate::config::Config;
use crate::error::{CliResult, UsageContext};
use crate::wiring::App;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs what it does (started, heartbeats, stopped) by default; commands only warn.
    let daemon = matches!(cli.command, Command::Orders(cli::OrdersCommand::Run(_)));
    init_logging(cli.log_format, cli.verbose.max(u8::from(daemon)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(exit_code = e.exit_code(), "{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    let config = Config::load(cli.config.as_deref()).usage()?;
    let app = App::new(config).await.usage()?;
    match cli.command {
        Command::Collect(args) => cmd::collect::run(&app, args).await,
        Command::Data(command) => cmd::data::run(&app, command).await,
        Command::Fetch(args) => cmd::fetch::run(&app, args).await,
        Command::Cache(command) => cmd::cache::run(&app, command).await,
        Command::Bench(args) => cmd::bench::run(&app, args).await,
        Command::Artifacts(command) => cmd::artifacts::run(&app, command).await,
        Command::Init(args) => cmd::init::run(&app, args).await,
        Command::KillSwitch(command) => cmd::kill_switch::run(&app, command).await,
        Command::Orders(command) => cmd::orders::run(&app, command).await,
        Command::Positions(command) => cmd::positions::run(&app, command).await,
        Command::Chart(args) => cmd::chart::run(&app, args).await,
        Command::Config(command) => cmd::config::run(&app, command).await,
    }
}

fn init_logging(format: Option<LogFormat>, verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let json = match format {
        Some(f) => f == LogFormat::Json,
        None => !std::io::stderr().is_terminal(),
    };
    metrics::set_json_logs(json);
    // Machine-readable logs end each job with its summary line, even without `-v`.
    let default = if json { format!("{default},{}=info", metrics::SUMMARY_TARGET) } else { default.to_owned() };
    let filter = EnvFilter::try_from_env("AXIA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.with_target(false).init();
    }
}
