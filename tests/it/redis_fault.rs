//! The Redis tier when its server dies and comes back: a `redis-server` of the test's own (a
//! child process on a free loopback port) is killed under a live repository, every call must
//! then fail fast with a retryable `Unavailable`, the collector must keep filling the history tier
//! and report Redis as degraded, and once the server is back on the same port the same
//! repository (the same pool) must recover without being rebuilt.
//!
//! The same for a primary of a Redis Cluster of the test's own (three children, created with
//! `redis-cli --cluster create`): while the primary is down, and once the others mark it failed,
//! listing series is `Unavailable`, never a list missing the dead primary's series.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_adapters::memory::InMemoryOhlcvRepository;
use axia_adapters::redis::{RedisConfig, RedisOhlcvDataRepository};
use axia_adapters::synthetic::SyntheticSource;
use axia_application::{CollectConfig, CollectOhlcvData, CollectRequest, TaskOutcome};
use axia_domain::ports::{OhlcvDataRepository, RepositoryError};
use axia_domain::{Bar, Clock, FixedClock, OhlcvSeries, SeriesKey, Symbol, Timeframe};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
const COMMAND_TIMEOUT: Duration = Duration::from_millis(300);

/// 2025-09-03 00:00 UTC.
fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 3, 0, 0, 0).unwrap()
}

/// A port nobody listens on right now (the OS picks it; the listener is closed at once).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind 127.0.0.1:0").port()
}

/// True when a Redis answers `PING` on `port`.
fn answers(port: u16) -> bool {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.get_mut().write_all(b"PING\r\n").is_ok() && reader.read_line(&mut line).is_ok() && line == "+PONG\r\n"
}

/// `n` distinct loopback ports free for cluster nodes: each port and its bus port (+10000).
fn free_cluster_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    while held.len() < n {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        if let Some(bus) = port.checked_add(10_000).and_then(|bus| TcpListener::bind(("127.0.0.1", bus)).ok()) {
            held.push((port, listener, bus));
        }
    }
    held.into_iter().map(|(port, ..)| port).collect()
}

/// The `cluster_state` (`ok`, `fail`) a node reports, or `None` when it does not answer.
fn cluster_state(port: u16) -> Option<String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(b"CLUSTER INFO\r\n").ok()?;
    let mut header = String::new();
    reader.read_line(&mut header).ok()?;
    let len: usize = header.strip_prefix('$')?.trim_end().parse().ok()?;
    let mut body = vec![0; len + 2];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8_lossy(&body).lines().find_map(|l| l.strip_prefix("cluster_state:")).map(|s| s.trim().to_owned())
}

/// Waits until every node of `ports` reports `cluster_state:{want}`.
fn wait_for_cluster_state(ports: &[u16], want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let states: Vec<Option<String>> = ports.iter().map(|&p| cluster_state(p)).collect();
        if states.iter().all(|s| s.as_deref() == Some(want)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nodes {ports:?} not all cluster_state:{want} within {within:?}: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `redis-server` child on loopback, killed (by its own PID) when dropped.
pub(crate) struct Server {
    pub(crate) port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Server {
    pub(crate) fn start() -> Self {
        Self::start_with(free_port(), &[])
    }

    /// A server on `port` with `extra` arguments, in a directory of its own.
    fn start_with(port: u16, extra: &[&str]) -> Self {
        let extra = extra.iter().map(ToString::to_string).collect();
        let mut server = Self { port, dir: tempfile::tempdir().unwrap(), extra, child: None };
        server.spawn();
        server
    }

    /// Starts the server (again) on its port and waits until it answers.
    pub(crate) fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): the Redis fault test needs it on PATH (apt-get install redis-server)")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers(self.port) {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                panic!("redis-server on 127.0.0.1:{} exited at start: {status}", self.port);
            }
            assert!(Instant::now() < deadline, "redis-server did not answer on 127.0.0.1:{} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `SIG{signal}` to the server (by its PID).
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("the server is running").id();
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
        assert!(status.success(), "kill -{signal} {pid}: {status}");
    }

    /// Kills the server (SIGKILL: no goodbye to the clients) and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn eurusd_m1() -> SeriesKey {
    SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1)
}

/// `n` M1 EURUSD bars from 2025-09-02 12:00, prices shifted by `level`.
fn bars(n: i64, level: f64) -> OhlcvSeries {
    let start = Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap();
    let bars = (0..n)
        .map(|i| Bar::new(start + TimeDelta::minutes(i), level, level + 0.01, level - 0.01, level, 1).unwrap())
        .collect();
    OhlcvSeries::new(eurusd_m1(), bars).unwrap()
}

/// Every repository call once, each with how long it took.
async fn every_call(repo: &RedisOhlcvDataRepository) -> Vec<(&'static str, Result<(), RepositoryError>, Duration)> {
    let all = axia_tests::ohlcv_contract::all_time();
    let s = bars(3, 1.3);
    let mut out = Vec::new();
    let started = Instant::now();
    out.push(("get_range", repo.get_range(&eurusd_m1(), all).await.map(|_| ()), started.elapsed()));
    let started = Instant::now();
    out.push(("upsert", repo.upsert(&s).await.map(|_| ()), started.elapsed()));
    let started = Instant::now();
    out.push(("delete_range", repo.delete_range(&eurusd_m1(), all).await.map(|_| ()), started.elapsed()));
    let started = Instant::now();
    out.push(("coverage", repo.coverage(&eurusd_m1()).await.map(|_| ()), started.elapsed()));
    let started = Instant::now();
    out.push(("list_series", repo.list_series().await.map(|_| ()), started.elapsed()));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dies_and_comes_back_under_a_live_repository() {
    let mut server = Server::start();
    let config = RedisConfig {
        key_prefix: "axiatest:fault:".into(),
        connect_timeout: CONNECT_TIMEOUT,
        command_timeout: COMMAND_TIMEOUT,
        ..RedisConfig::for_url(server.url())
    };
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(test_now()));
    let repo = Arc::new(RedisOhlcvDataRepository::new(config, Arc::clone(&clock)).unwrap());
    let all = axia_tests::ohlcv_contract::all_time();

    // (a) Up: writes and reads work (and leave pooled connections behind).
    let s = bars(10, 1.1);
    assert_eq!(repo.upsert(&s).await.unwrap().inserted, 10);
    assert_eq!(repo.get_range(&eurusd_m1(), all).await.unwrap(), s);
    assert_eq!(repo.list_series().await.unwrap(), vec![eurusd_m1()]);

    // (b) Down: every call fails fast and retryably. First hung (SIGSTOP: the kernel still
    // accepts connections, nothing answers, so only the timeouts end the calls), then dead
    // (SIGKILL: the pooled connections break, new ones are refused).
    let bound = 2 * (CONNECT_TIMEOUT + COMMAND_TIMEOUT);
    for (round, state) in ["hung", "dead", "dead"].into_iter().enumerate() {
        match round {
            0 => server.signal("STOP"),
            1 => server.kill(),
            _ => {}
        }
        let calls = every_call(&repo).await;
        let slowest = calls.iter().map(|(_, _, took)| *took).max().unwrap_or_default();
        println!("redis fault test: Redis {state}, round {round}: slowest call {slowest:?}");
        for (call, result, took) in calls {
            match result {
                Err(e @ RepositoryError::Unavailable { .. }) => {
                    assert!(e.is_retryable(), "{call}: {e}");
                    assert!(e.to_string().contains(&format!("127.0.0.1:{}", server.port)), "{call} names the URL: {e}");
                }
                other => panic!("round {round}, {call} with Redis {state}: expected Unavailable, got {other:?}"),
            }
            assert!(took < bound, "round {round}, {call} took {took:?} with Redis {state} (bound {bound:?})");
        }
    }

    // (c) The collector keeps going on the history tier and reports Redis as degraded.
    let history = Arc::new(InMemoryOhlcvRepository::new());
    let source = SyntheticSource::new(7).with_end(Some(test_now()));
    let hot: Vec<Arc<dyn OhlcvDataRepository>> = vec![Arc::clone(&repo) as Arc<dyn OhlcvDataRepository>];
    let collector = CollectOhlcvData::new(
        Arc::new(source),
        Arc::clone(&history) as Arc<dyn OhlcvDataRepository>,
        hot,
        Arc::clone(&clock),
        CollectConfig::default(),
    );
    let request = CollectRequest {
        symbols: ["EURUSD", "USDJPY"].iter().map(|s| Symbol::new(s).unwrap()).collect(),
        timeframes: vec![Timeframe::M1, Timeframe::H1],
        from: Some(test_now() - TimeDelta::days(1)),
        to: Some(test_now()),
    };
    let started = Instant::now();
    let report = collector.run(&request, None).await;
    let took = started.elapsed();
    assert_eq!(report.tasks.len(), 4);
    for task in &report.tasks {
        let range = match &task.outcome {
            TaskOutcome::Stored { range, .. } => *range,
            other => panic!("{}: expected Stored with Redis down, got {other:?}", task.key),
        };
        assert!(
            task.degraded.len() == 1
                && task.degraded[0].starts_with("redis: ")
                && task.degraded[0].contains("unavailable"),
            "{}: Redis must be reported as degraded: {:?}",
            task.key,
            task.degraded
        );
        let want = source.generate(&task.key, range);
        assert!(!want.is_empty(), "{}: the synthetic market trades on 2025-09-02", task.key);
        assert_eq!(
            history.get_range(&task.key, all).await.unwrap(),
            want,
            "{}: the history tier has every bar",
            task.key
        );
    }
    let counts = report.counts();
    assert_eq!((counts.stored, counts.failed, counts.degraded), (4, 0, 4), "{counts:?}");
    assert!(report.is_success());
    assert!(took < 4 * bound, "the collector took {took:?} with Redis down");

    // (d) Back on the same port: the same repository (same pool) recovers by itself.
    server.spawn();
    let restarted = Instant::now();
    let deadline = restarted + Duration::from_secs(5);
    let s = bars(5, 1.2);
    let last_error = loop {
        let result = async {
            repo.upsert(&s).await?;
            repo.get_range(&eurusd_m1(), all).await
        }
        .await;
        match result {
            Ok(back) => {
                assert_eq!(back, s, "the restarted server (no persistence) holds only the new bars");
                break None;
            }
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_retryable(), "while recovering: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => break Some(e),
        }
    };
    assert!(last_error.is_none(), "no recovery within 5 s of the restart: {last_error:?}");
    assert_eq!(repo.list_series().await.unwrap(), vec![eurusd_m1()]);
    println!("redis fault test: recovered {:?} after the restart", restarted.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_primary_down_is_unavailable_never_partial() {
    // A short node timeout so the survivors mark the dead primary failed within seconds.
    let ports = free_cluster_ports(3);
    let mut nodes: Vec<Server> = ports
        .iter()
        .map(|&port| Server::start_with(port, &["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"]))
        .collect();
    let created = Instant::now();
    let out = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run redis-cli ({e}): the Redis Cluster fault test needs it on PATH (apt-get install redis-tools)")
        });
    assert!(out.status.success(), "redis-cli --cluster create failed: {}", String::from_utf8_lossy(&out.stdout));
    wait_for_cluster_state(&ports, "ok", Duration::from_secs(10));
    println!("redis cluster fault test: cluster created in {:?}", created.elapsed());

    let config = RedisConfig {
        cluster: true,
        key_prefix: "axiatest:clusterfault:".into(),
        connect_timeout: CONNECT_TIMEOUT,
        command_timeout: COMMAND_TIMEOUT,
        ..RedisConfig::for_url(format!("redis://127.0.0.1:{}", ports[0]))
    };
    let repo = RedisOhlcvDataRepository::new(config, Arc::new(FixedClock::new(test_now()))).unwrap();
    let all = axia_tests::ohlcv_contract::all_time();
    let keys: Vec<SeriesKey> =
        (0..20).map(|i| SeriesKey::new(Symbol::new(&format!("CLU{i:02}")).unwrap(), Timeframe::M1)).collect();
    let bar = Bar::new(Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap(), 1.1, 1.2, 1.0, 1.1, 1).unwrap();
    for key in &keys {
        repo.upsert(&OhlcvSeries::new(key.clone(), vec![bar]).unwrap()).await.unwrap();
    }
    assert_eq!(repo.list_series().await.unwrap().len(), keys.len());

    // A primary (not the seed) dies: calls on its keys fail, none hangs, and the listing is
    // Unavailable rather than the series of the two others.
    nodes[1].kill();
    let bound = 2 * (CONNECT_TIMEOUT + COMMAND_TIMEOUT);
    let expect_unavailable = |what: &str, r: Result<(), RepositoryError>, took: Duration| {
        assert!(took < bound, "{what} took {took:?} with a primary down (bound {bound:?})");
        match r {
            Err(e @ RepositoryError::Unavailable { .. }) => assert!(e.is_retryable(), "{what}: {e}"),
            other => panic!("{what} with a primary down: expected Unavailable, got {other:?}"),
        }
    };
    for key in keys.iter().take(8) {
        let started = Instant::now();
        let r = repo.get_range(key, all).await;
        assert!(started.elapsed() < bound, "get_range {key} took {:?} with a primary down", started.elapsed());
        if let Err(e) = r {
            assert!(e.is_retryable(), "get_range {key}: {e}");
        }
    }
    let started = Instant::now();
    expect_unavailable("list_series", repo.list_series().await.map(|_| ()), started.elapsed());

    // Once the survivors mark it failed, its slots have no primary: the cluster is down for
    // every key, and the listing names the unserved slots.
    wait_for_cluster_state(&[ports[0], ports[2]], "fail", Duration::from_secs(15));
    let started = Instant::now();
    let listed = repo.list_series().await;
    expect_unavailable("list_series", listed.as_ref().map(|_| ()).map_err(Clone::clone), started.elapsed());
    let detail = listed.unwrap_err().to_string();
    assert!(detail.contains("hash slots have no live primary"), "{detail}");
    for key in keys.iter().take(3) {
        let started = Instant::now();
        expect_unavailable("get_range", repo.get_range(key, all).await.map(|_| ()), started.elapsed());
    }

    // Back (an empty node: no persistence) with its cluster config: the same repository recovers.
    nodes[1].spawn();
    wait_for_cluster_state(&ports, "ok", Duration::from_secs(15));
    let restarted = Instant::now();
    let deadline = restarted + Duration::from_secs(10);
    let listed = loop {
        let attempt = async {
            for key in &keys {
                repo.upsert(&OhlcvSeries::new(key.clone(), vec![bar]).unwrap()).await?;
            }
            repo.list_series().await
        }
        .await;
        match attempt {
            Ok(listed) => break listed,
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_retryable(), "while recovering: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no recovery within 10 s of the restart: {e}"),
        }
    };
    assert_eq!(listed, keys);
    println!("redis cluster fault test: recovered {:?} after the cluster was ok again", restarted.elapsed());
}
