//! `axia bench`: the performance scenarios of SPEC §11, printed as
//! `{"scenarios": {"<name>": {"median_us": …, "p99_us": …, "ops_per_s": …, "bytes": …}}}`.
//!
//! Redis comes from `[redis]` (default `redis://127.0.0.1:6379/0`); every key is written under
//! `axia-bench:<uuid>:` and the Parquet stores in a fresh directory, both removed at the end, on
//! failure and on Ctrl-C too.

use std::io::IsTerminal;

use anyhow::anyhow;
use serde_json::{Map, Value, json};

use crate::bench::env::{BenchRedis, ScratchDir, run_id, scratch_parent};
use crate::bench::stats::Figures;
use crate::bench::workload::Workload;
use crate::bench::{Context, Scenario};
use crate::cli::BenchArgs;
use crate::error::{CliError, CliResult};
use crate::wiring::App;

/// Runs the command.
///
/// # Errors
/// A usage error for an unknown scenario; [`CliError::Failed`] when a scenario fails, Redis
/// cannot be reached (naming its URL) or the run is interrupted.
pub async fn run(app: &App, args: BenchArgs) -> CliResult {
    let scenarios = select(args.scenario.as_deref())?;
    let id = run_id();
    let redis = if scenarios.iter().any(|s| s.needs_redis()) {
        Some(BenchRedis::new(&app.config, &id).map_err(CliError::Usage)?)
    } else {
        None
    };
    let scratch = ScratchDir::create(&scratch_parent(&app.config), &id)?;
    let measured = tokio::select! {
        r = measure(app, &scenarios, args.iterations, redis.as_ref(), &scratch) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let cleaned = match &redis {
        Some(r) => r.cleanup().await.map(Some),
        None => Ok(None),
    };
    drop(scratch);
    let results = measured?;
    match cleaned {
        Ok(Some(keys)) => tracing::info!(keys, "deleted the benchmark's Redis keys"),
        Ok(None) => {}
        Err(e) => tracing::warn!("cannot delete every benchmark key (they expire in 25 h): {e:#}"),
    }
    if args.json || !std::io::stdout().is_terminal() {
        outln!("{}", to_json(&results));
    } else {
        print_table(&results);
    }
    Ok(())
}

/// The scenarios `--scenario` names (all of them without it).
fn select(name: Option<&str>) -> CliResult<Vec<Scenario>> {
    let Some(name) = name else { return Ok(Scenario::ALL.to_vec()) };
    if let Some(s) = Scenario::parse(name) {
        return Ok(vec![s]);
    }
    let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
    Err(CliError::Usage(anyhow!("scenario {name:?} is unknown; the scenarios are: {}", known.join(", "))))
}

async fn measure(
    app: &App,
    scenarios: &[Scenario],
    iterations: Option<u32>,
    redis: Option<&BenchRedis>,
    scratch: &ScratchDir,
) -> anyhow::Result<Vec<(Scenario, Figures)>> {
    let workload = tokio::task::spawn_blocking(Workload::generate).await??;
    let ctx = Context::new(&workload, redis, scratch.path(), app.config.collector.concurrency);
    if let Some(r) = redis {
        tracing::info!(url = r.url(), prefix = r.prefix(), "benchmark keys");
        r.check(&*r.repository("", std::sync::Arc::new(axia_domain::SystemClock))?).await?;
    }
    let mut out = Vec::with_capacity(scenarios.len());
    for &scenario in scenarios {
        let figures = ctx.run(scenario, iterations).await?;
        tracing::info!(scenario = scenario.name(), ?figures, "measured");
        out.push((scenario, figures));
    }
    Ok(out)
}

fn to_json(results: &[(Scenario, Figures)]) -> Value {
    let scenarios: Map<String, Value> =
        results.iter().map(|(s, f)| (s.name().to_owned(), serde_json::to_value(f).unwrap_or(Value::Null))).collect();
    json!({ "scenarios": scenarios })
}

fn print_table(results: &[(Scenario, Figures)]) {
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    outln!(
        "{:<20} {:>11} {:>11} {:>13} {:>10}  {:<34} {}",
        "SCENARIO",
        "MEDIAN_US",
        "P99_US",
        "OPS_PER_S",
        "BYTES",
        "TARGET (SPEC §11)",
        "MET"
    );
    for (s, f) in results {
        let met = match s.meets_target(f) {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        outln!(
            "{:<20} {:>11} {:>11} {:>13} {:>10}  {:<34} {met}",
            s.name(),
            num(f.median_us),
            num(f.p99_us),
            num(f.ops_per_s),
            f.bytes.map_or_else(|| "-".to_owned(), |b| b.to_string()),
            s.target()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scenarios_are_usage_errors_listing_the_names() {
        for name in ["nope", "provider_chart"] {
            let err = select(Some(name)).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains("redis_get_1h, redis_update_1bar"), "{err}");
            assert!(err.to_string().contains("provider_chart_30d, provider_chart_30d_warm"), "{err}");
        }
        assert_eq!(select(None).unwrap().len(), Scenario::ALL.len());
        assert_eq!(select(Some("l1_get_24h")).unwrap(), vec![Scenario::L1Get24h]);
    }

    #[test]
    fn json_has_one_object_per_scenario() {
        let f = Figures { median_us: Some(1.5), p99_us: Some(2.0), ops_per_s: Some(600_000.0), bytes: None };
        let v = to_json(&[(Scenario::RedisGet1h, f)]);
        assert_eq!(
            v,
            json!({"scenarios": {"redis_get_1h": {"median_us": 1.5, "p99_us": 2.0, "ops_per_s": 600_000.0}}})
        );
    }
}
