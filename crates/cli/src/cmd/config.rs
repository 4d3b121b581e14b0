//! `axia config show` (the effective configuration, secrets redacted) and `axia config check`
//! (validate it and try every configured endpoint, see [`check`]).

mod check;

use std::io::IsTerminal;

use anyhow::Context;

use crate::cli::ConfigCommand;
use crate::config::keys::{redacted, without_nulls};
use crate::error::CliResult;
use crate::wiring::App;

/// Runs `axia config …`.
///
/// # Errors
/// `show`: the configuration cannot be rendered; `check`: `CliError::Failed` when any check
/// fails (every check is printed first).
pub async fn run(app: &App, command: ConfigCommand) -> CliResult {
    match command {
        ConfigCommand::Show { json } => show(app, json),
        ConfigCommand::Check { json } => check::run(app, json || !std::io::stdout().is_terminal()).await,
    }
}

/// Prints the effective configuration as TOML (unset options left out) or JSON (`null`).
fn show(app: &App, json: bool) -> CliResult {
    let value = redacted(&app.config);
    if json {
        outln!("{}", serde_json::to_string_pretty(&value).context("cannot render the configuration as JSON")?);
    } else {
        let text = toml::to_string(&without_nulls(&value)).context("cannot render the configuration as TOML")?;
        outln!("{}", text.trim_end());
    }
    Ok(())
}
