//! Running the binary and inspecting what it stored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use md5::{Digest, Md5};

/// A scratch directory with no configuration.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self) -> PathBuf {
        self.path().join("axia-data")
    }

    /// Runs `axia args…` in the directory with no `AXIA_*` variables set.
    pub fn axia(&self, args: &[&str]) -> Output {
        self.axia_env(args, &[])
    }

    /// Runs `axia args…` with only the given `AXIA_*` variables set.
    pub fn axia_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_axia"));
        cmd.args(args).current_dir(self.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("AXIA_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        cmd.output().expect("run axia")
    }

    /// Runs with `env` and asserts exit code 0; returns stdout.
    pub fn ok_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.axia_env(args, env);
        assert!(out.status.success(), "axia {args:?} failed: {}\n{}", out.status, stderr(&out));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs and asserts exit code 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.axia(args);
        assert!(out.status.success(), "axia {args:?} failed: {}\n{}", out.status, stderr(&out));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, content).expect("write file");
        p
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Every file under `root` (relative path → md5).
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                out.insert(rel, md5_hex(&std::fs::read(&p).expect("read file")));
            }
        }
    }
    out
}

/// The Python interpreter with pyarrow and duckdb that `scripts/test.sh` prepares.
pub fn python() -> String {
    std::env::var("AXIA_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("AXIA_TEST_PYTHON is not set: run the tests with scripts/test.sh, which installs pyarrow and duckdb")
    })
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Runs a Python script of `scripts/` with `args`; asserts success and returns stdout.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let out =
        Command::new(python()).arg(repo_root().join("scripts").join(script)).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A name no other run or test uses: `prefix`, the process id, the time and a counter.
pub fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}{}x{nanos}x{n}", std::process::id())
}

/// `text` parsed as JSON; panics showing it when it is not.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
