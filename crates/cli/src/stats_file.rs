//! Cumulative provider stats kept across runs in a JSON file, so `axia cache stats` can show the
//! hit rates and latency percentiles of every `fetch`, `chart` and `warmup` so far. Writers
//! take an exclusive lock on a sidecar `.lock` file and replace the file atomically: two
//! concurrent runs lose no count.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::Context;
use axia_application::provider::StatsSnapshot;

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// The totals in `path` (zero when it does not exist yet).
///
/// # Errors
/// The file exists but cannot be read or parsed.
pub fn load(path: &Path) -> anyhow::Result<StatsSnapshot> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StatsSnapshot::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Adds `run` to the totals in `path` and returns the new totals.
///
/// # Errors
/// The file or its lock cannot be read or written.
pub fn accumulate(path: &Path, run: &StatsSnapshot) -> anyhow::Result<StatsSnapshot> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let lock_file = lock_path(path);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_file)
        .with_context(|| format!("opening {}", lock_file.display()))?;
    lock.lock().with_context(|| format!("locking {}", lock_file.display()))?;
    let mut total = match load(path) {
        Ok(t) => t,
        Err(e) => {
            // A damaged file must not stop reads: start the totals afresh, say so.
            tracing::warn!(path = %path.display(), error = %e, "provider stats unreadable; starting new totals");
            StatsSnapshot::default()
        }
    };
    total.absorb(run);
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, serde_json::to_vec_pretty(&total)?).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    drop::<File>(lock);
    Ok(total)
}

/// Adds this process's provider counters to the file when configured; failures only warn
/// (stats must never fail a read). Returns the totals when they could be written.
pub fn record(path: Option<&Path>, run: &StatsSnapshot) -> Option<StatsSnapshot> {
    let path = path?;
    if run.calls == 0 && run.tiers.is_empty() {
        return load(path).ok();
    }
    match accumulate(path, run) {
        Ok(total) => Some(total),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = format!("{e:#}"), "cannot record provider stats");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axia_application::provider::ProviderStats;

    use super::*;

    fn one_call() -> StatsSnapshot {
        let s = ProviderStats::default();
        // No public recorder: a snapshot of one call, built field by field.
        let mut snap = s.snapshot();
        snap.calls = 1;
        snap.complete = 1;
        snap
    }

    #[test]
    fn totals_accumulate_across_runs_and_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("sub/provider-stats.json"));
        assert_eq!(load(&path).unwrap(), StatsSnapshot::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = Arc::clone(&path);
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        accumulate(&path, &one_call()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(load(&path).unwrap().calls, 40, "no lost update");
    }

    #[test]
    fn a_damaged_file_is_replaced_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider-stats.json");
        fs::write(&path, b"{not json").unwrap();
        assert!(load(&path).is_err());
        assert_eq!(accumulate(&path, &one_call()).unwrap().calls, 1);
    }
}
