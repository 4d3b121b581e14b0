//! `axia kill-switch status | halt | reduce-only | resume | history`.
//!
//! Changes need `--reason`; `--by` defaults to `$USER@hostname` ([`operator`]). The state store
//! is the system of record; with `[redis] url` set, each change is also mirrored to
//! `system:status`, and a Redis failure is a warning (the change stands, exit 0).

use std::io::IsTerminal;

use anyhow::anyhow;
use axia_application::{KillSwitchChange, KillSwitchError, KillSwitchService};
use axia_domain::{KillSwitchAudit, KillSwitchState, SystemEvent, TradingState};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::cli::{KillSwitchChangeArgs, KillSwitchCommand};
use crate::error::{CliError, CliResult};
use crate::wiring::App;

/// Runs the command.
///
/// # Errors
/// Usage errors for a blank reason or name; [`CliError::Failed`] when the state cannot be read
/// (after printing the fail-closed state) or the change is refused (never initialised, changed
/// by someone else meanwhile, store unreachable).
pub async fn run(app: &App, command: KillSwitchCommand) -> CliResult {
    match command {
        KillSwitchCommand::Status { json } => status(app, want_json(json)).await,
        KillSwitchCommand::Halt(args) => change(app, TradingState::Halted, args).await,
        KillSwitchCommand::ReduceOnly(args) => change(app, TradingState::ReduceOnly, args).await,
        KillSwitchCommand::Resume(args) => change(app, TradingState::Active, args).await,
        KillSwitchCommand::History { limit, json } => history(app, limit, want_json(json)).await,
    }
}

fn want_json(flag: bool) -> bool {
    flag || !std::io::stdout().is_terminal()
}

/// Who makes a change when `--by` is not given: `$USER@hostname` (`USERNAME` or `LOGNAME` when
/// `USER` is unset, `unknown` when none is; just the user when the host name is unknown).
#[must_use]
pub fn operator() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    match hostname() {
        Some(host) => format!("{user}@{host}"),
        None => user,
    }
}

fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

async fn service(app: &App) -> anyhow::Result<KillSwitchService> {
    Ok(app.kill_switch(app.state().await?))
}

async fn status(app: &App, json: bool) -> CliResult {
    // `cause`: why the stored state cannot be read; the fail-closed reason adds what to do.
    let (state, cause) = match service(app).await {
        Ok(service) => {
            let effective = service.status().await;
            (effective.state, effective.unreadable.map(|e| e.to_string()))
        }
        // The store itself cannot be opened: as unreadable as a failed read.
        Err(e) => (KillSwitchState::fail_closed(format!("{e:#}"), app.clock.now()), Some(format!("{e:#}"))),
    };
    if json {
        let mut doc = state_json(&state);
        doc["fail_closed"] = Value::Bool(cause.is_some());
        if let Some(cause) = &cause {
            doc["error"] = Value::String(cause.clone());
        }
        outln!("{doc}");
    } else {
        print_state(&state);
        if cause.is_some() {
            outln!("(fail-closed: the stored state cannot be read, so trading is treated as halted)");
        }
    }
    match cause {
        None => Ok(()),
        Some(_) => Err(CliError::Failed(anyhow!("{}", state.reason))),
    }
}

async fn change(app: &App, to: TradingState, args: KillSwitchChangeArgs) -> CliResult {
    if args.reason.trim().is_empty() {
        return Err(CliError::Usage(anyhow!("--reason must not be blank: say why the kill switch changes")));
    }
    let by = match args.by {
        Some(by) if by.trim().is_empty() => return Err(CliError::Usage(anyhow!("--by must not be blank"))),
        Some(by) => by.trim().to_owned(),
        None => operator(),
    };
    let service = service(app).await.map_err(CliError::Failed)?;
    let change = service.change(to, &args.reason, &by).await.map_err(|e| match e {
        KillSwitchError::Invalid(_) => CliError::Usage(e.into()),
        e => CliError::Failed(e.into()),
    })?;
    if let Some(warning) = change.mirror.warning() {
        tracing::warn!("{warning}");
    }
    publish(app, &change.audit).await;
    if want_json(args.json) {
        outln!("{}", change_json(&change));
    } else {
        let KillSwitchChange { state, audit, .. } = &change;
        outln!("kill switch: {} (was {}), version {}", state.state, audit.previous, state.version);
        outln!("reason:      {}", state.reason);
        outln!("changed by:  {} at {}", state.changed_by, time(state.changed_at));
    }
    Ok(())
}

/// Publishes the change to `[events]` (SNS, or the log). Best effort, like the mirror: the
/// change is stored whatever happens here, and a failure is a warning.
async fn publish(app: &App, audit: &KillSwitchAudit) {
    let event = SystemEvent::KillSwitchChanged { audit: audit.clone() };
    let published = match app.events().await {
        Ok(events) => events.publisher.publish(&event).await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    if let Err(e) = published {
        tracing::warn!(error = %e, "the kill-switch change stands, but its event was not published");
    }
}

async fn history(app: &App, limit: u32, json: bool) -> CliResult {
    let service = service(app).await.map_err(CliError::Failed)?;
    let trail = service.history(limit as usize).await.map_err(|e| CliError::Failed(e.into()))?;
    if json {
        let rows: Vec<Value> = trail.iter().map(audit_json).collect();
        outln!("{}", Value::Array(rows));
        return Ok(());
    }
    if trail.is_empty() {
        outln!("no kill-switch changes recorded (run `axia init`)");
        return Ok(());
    }
    outln!("{:>7}  {:<20}  {:<11}  {:<11}  {:<24}  REASON", "VERSION", "CHANGED_AT", "PREVIOUS", "STATE", "BY");
    for a in &trail {
        outln!(
            "{:>7}  {:<20}  {:<11}  {:<11}  {:<24}  {}",
            a.version,
            time(a.changed_at),
            a.previous,
            a.state,
            a.changed_by,
            a.reason
        );
    }
    Ok(())
}

/// For people: whole seconds.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// For programs: exact (as many fractional digits as stored), as the Redis mirror holds it.
fn exact_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn state_json(s: &KillSwitchState) -> Value {
    json!({
        "state": s.state, "reason": s.reason, "changed_by": s.changed_by,
        "changed_at": exact_time(s.changed_at), "version": s.version,
    })
}

fn audit_json(a: &KillSwitchAudit) -> Value {
    json!({
        "version": a.version, "previous": a.previous, "state": a.state, "reason": a.reason,
        "changed_by": a.changed_by, "changed_at": exact_time(a.changed_at),
    })
}

fn change_json(change: &KillSwitchChange) -> Value {
    let mut doc = state_json(&change.state);
    doc["previous"] = json!(change.audit.previous);
    doc["mirror"] = json!(change.mirror);
    doc
}

fn print_state(s: &KillSwitchState) {
    outln!("state:       {}", s.state);
    outln!("reason:      {}", s.reason);
    outln!("changed by:  {}", s.changed_by);
    outln!("changed at:  {}", time(s.changed_at));
    outln!("version:     {}", s.version);
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn kill_switch_json_documents() {
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap();
        let state = KillSwitchState {
            state: TradingState::ReduceOnly,
            reason: "news".into(),
            changed_by: "ops@host".into(),
            changed_at: at,
            version: 3,
        };
        let doc = state_json(&state);
        assert_eq!(doc["state"], "reduce_only");
        assert_eq!(doc["changed_at"], "2025-09-01T12:00:00Z");
        assert_eq!(doc["version"], 3);
        let (next, audit) = state.change(TradingState::Halted, "gap", "bob", at).unwrap();
        let change = KillSwitchChange { state: next, audit, mirror: axia_application::MirrorOutcome::NotConfigured };
        let doc = change_json(&change);
        assert_eq!((doc["state"].as_str(), doc["previous"].as_str()), (Some("halted"), Some("reduce_only")));
        assert_eq!(doc["mirror"]["status"], "not_configured");
        let audit = audit_json(&change.audit);
        assert_eq!((audit["version"].as_u64(), audit["changed_by"].as_str()), (Some(4), Some("bob")));
    }

    #[test]
    fn kill_switch_operator_is_never_blank() {
        let who = operator();
        assert!(!who.trim().is_empty());
        assert!(!who.starts_with('@') && !who.ends_with('@'), "{who}");
    }
}
