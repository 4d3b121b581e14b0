//! The Parquet history tier on S3 when the S3 server stops answering in the middle of a write
//! (SPEC §10: "S3 down (fail the write, keep the manifest consistent)", "a crash between writing
//! data and the manifest"), against the local S3 server (`AXIA_TEST_AWS_ENDPOINT`).
//!
//! The server keeps its objects in memory, so it is not killed: the store talks to it through a
//! [`FaultProxy`] of the test's own, a loopback TCP relay that reads the HTTP requests passing
//! through and, at a request chosen by counting (never by timing), drops every open connection
//! and closes every new one until it is switched back up. Then:
//!
//! - an upsert of twenty days of M1 cut after its eighth object fails with a retryable error
//!   within a bound; the manifest lists only objects that exist with the md5 it records, reads
//!   return exactly the bars of the listed partitions, and the rerun of the same upsert through
//!   the same repository lists the orphans, loses no bar and leaves `verify` clean;
//! - an upsert cut after its object and before its manifest update leaves an orphan that reads
//!   and coverage do not show (the manifest is the commit record), that `verify` names, and that
//!   a repair or the next upsert lists;
//! - an upsert that rewrites a listed partition, cut at the same point, leaves that partition's
//!   entry behind its object (S3 objects are replaced in place): `verify` names it as a size or
//!   md5 mismatch, never a missing object, reads show the object as it is while coverage follows
//!   the entry, and the rerun of the upsert updates the entry.
//!
//! Every test works in its own bucket `axia-test-<uuid>`.

use std::collections::BTreeSet;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axia_adapters::object_store::{S3ObjectStore, S3Settings, md5_hex};
use axia_adapters::parquet::layout::parse_object_key;
use axia_adapters::parquet::{
    Manifest, ParquetOhlcvRepository, ProblemKind, RepairAction, VerifyOptions, VerifyReport,
};
use axia_adapters::synthetic::SyntheticSource;
use axia_domain::ports::{ObjectStore, OhlcvDataRepository, RepositoryError, WriteSummary};
use axia_domain::{OhlcvSeries, SeriesKey, Symbol, TimeRange, Timeframe};
use axia_tests::s3_support::aws_endpoint;
use chrono::{DateTime, TimeZone, Utc};
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

const PREFIX: &str = "hist";
const MANIFEST: &str = "hist/manifest.json";
/// Longest an S3 operation may take through the proxy, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// How soon a write cut by the outage must have failed: one operation timeout and some slack.
const FAIL_WITHIN: Duration = Duration::from_secs(8);
/// Past this a write is taken to hang.
const HANG: Duration = Duration::from_secs(20);

/// When the proxy goes down by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trip {
    /// At a data-object PUT once this many have been forwarded (that one is not).
    AfterDataPuts(usize),
    /// At the first manifest PUT (not forwarded).
    AtManifestPut,
}

/// What the proxy has seen, behind one lock so that going down and admitting a connection or a
/// request never interleave.
#[derive(Debug, Default)]
struct ProxyState {
    down: bool,
    trip: Option<Trip>,
    /// Data-object PUTs forwarded since the last [`FaultProxy::arm`].
    data_puts: usize,
    /// Manifest PUTs forwarded since the last [`FaultProxy::arm`].
    manifest_puts: usize,
    /// Connections closed unanswered while down.
    refused: usize,
    /// Requests the relay cannot frame (it forwards `Content-Length` bodies only).
    unframed: Vec<String>,
    connections: Vec<AbortHandle>,
}

impl ProxyState {
    /// Goes down: every open connection is dropped, and new ones are closed on accept.
    fn cut(&mut self) {
        self.down = true;
        for connection in self.connections.drain(..) {
            connection.abort();
        }
    }

    /// Whether to forward a request; trips the proxy when the request is the armed one.
    fn admit(&mut self, method: &str, path: &str) -> bool {
        if self.down {
            return false;
        }
        let put = method == "PUT";
        let data = put && path.contains("/ohlcv/") && path.ends_with(".parquet");
        let manifest = put && path.ends_with("/manifest.json");
        let trips = match self.trip {
            Some(Trip::AfterDataPuts(n)) => data && self.data_puts >= n,
            Some(Trip::AtManifestPut) => manifest,
            None => false,
        };
        if trips {
            self.trip = None;
            self.cut();
            return false;
        }
        self.data_puts += usize::from(data);
        self.manifest_puts += usize::from(manifest);
        true
    }
}

/// A loopback TCP relay to the S3 server that can be taken down and brought back up on the same
/// port. Its tasks stop when it is dropped.
struct FaultProxy {
    address: String,
    state: Arc<Mutex<ProxyState>>,
    acceptor: JoinHandle<()>,
}

impl FaultProxy {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the proxy relays plain HTTP, not {upstream}"))
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let address = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let acceptor = tokio::spawn(accept(listener, upstream.into(), Arc::clone(&state)));
        Self { address, state, acceptor }
    }

    /// The endpoint URL to give the store.
    fn endpoint(&self) -> &str {
        &self.address
    }

    fn state(&self) -> MutexGuard<'_, ProxyState> {
        self.state.lock().expect("proxy state")
    }

    /// Resets the counters and goes down at the request `trip` describes.
    fn arm(&self, trip: Trip) {
        let mut state = self.state();
        (state.trip, state.data_puts, state.manifest_puts) = (Some(trip), 0, 0);
    }

    /// Forwards again (connections dropped while down stay dropped).
    fn up(&self) {
        let mut state = self.state();
        (state.down, state.trip) = (false, None);
    }

    fn is_down(&self) -> bool {
        self.state().down
    }

    /// (data-object PUTs, manifest PUTs) forwarded since the last [`Self::arm`].
    fn puts(&self) -> (usize, usize) {
        let state = self.state();
        (state.data_puts, state.manifest_puts)
    }

    /// Panics when a request could not be relayed faithfully.
    fn assert_framed(&self) {
        let state = self.state();
        assert!(state.unframed.is_empty(), "requests the proxy cannot frame: {:?}", state.unframed);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        if let Ok(mut state) = self.state.lock() {
            state.cut();
        }
    }
}

async fn accept(listener: TcpListener, upstream: Arc<str>, state: Arc<Mutex<ProxyState>>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let mut guard = state.lock().expect("proxy state");
        if guard.down {
            guard.refused += 1;
            drop(client);
            continue;
        }
        let relay = tokio::spawn(relay(client, Arc::clone(&upstream), Arc::clone(&state)));
        guard.connections.retain(|c| !c.is_finished());
        guard.connections.push(relay.abort_handle());
    }
}

/// One client connection: requests are framed and forwarded one by one (each may be refused),
/// answers are copied back as they come.
async fn relay(client: TcpStream, upstream: Arc<str>, state: Arc<Mutex<ProxyState>>) {
    let Ok(server) = TcpStream::connect(&*upstream).await else { return };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::select! {
        _ = forward_requests(&mut client_read, &mut server_write, &state) => {}
        _ = tokio::io::copy(&mut server_read, &mut client_write) => {}
    }
}

async fn forward_requests(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    state: &Mutex<ProxyState>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let head_len = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if read_more(from, &mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
        let mut request_line = head.lines().next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default();
        let path = request_line.next().unwrap_or_default().split('?').next().unwrap_or_default();
        let header = |name: &str| {
            head.lines().skip(1).find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        if header("transfer-encoding").is_some() {
            state.lock().expect("proxy state").unframed.push(format!("{method} {path}: chunked"));
            return Ok(());
        }
        let mut body = header("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        if !state.lock().expect("proxy state").admit(method, path) {
            return Ok(());
        }
        to.write_all(&buf[..head_len]).await?;
        buf.drain(..head_len);
        while body > 0 {
            if buf.is_empty() && read_more(from, &mut buf).await? == 0 {
                return Ok(());
            }
            let n = body.min(buf.len());
            to.write_all(&buf[..n]).await?;
            buf.drain(..n);
            body -= n;
        }
    }
}

/// Appends what the client sent next; 0 at its end.
async fn read_more(from: &mut OwnedReadHalf, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.reserve(16 * 1024);
    from.read_buf(buf).await
}

/// A bucket of its own, a store over it through `proxy` (short timeouts, few attempts) and one
/// straight to the server (to look at what the outage left).
async fn stores(proxy: &FaultProxy) -> (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>) {
    let bucket = format!("axia-test-{}", uuid::Uuid::new_v4().simple());
    let direct =
        S3Settings { region: Some("us-east-1".into()), endpoint_url: Some(aws_endpoint()), ..S3Settings::new(bucket) };
    let proxied = S3Settings {
        endpoint_url: Some(proxy.endpoint().to_string()),
        connect_timeout: Duration::from_millis(300),
        operation_timeout: OPERATION_TIMEOUT,
        max_attempts: 3,
        ..direct.clone()
    };
    let direct = S3ObjectStore::new(direct).await.expect("S3 store");
    assert!(direct.ensure_bucket().await.expect("create the bucket"));
    let proxied = S3ObjectStore::new(proxied).await.expect("S3 store through the proxy");
    (Arc::new(proxied), Arc::new(direct))
}

fn eurusd_m1() -> SeriesKey {
    SeriesKey::new(Symbol::new("EURUSD").expect("symbol"), Timeframe::M1)
}

fn t(y: i32, mo: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, 0, 0, 0).single().expect("time")
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange::new(start, end).expect("range")
}

/// Everything stored in September and October 2025.
fn everything() -> TimeRange {
    range(t(2025, 9, 1), t(2025, 11, 1))
}

/// Synthetic EURUSD M1 bars of `[start, end)`.
fn m1(start: DateTime<Utc>, end: DateTime<Utc>) -> OhlcvSeries {
    SyntheticSource::new(7).generate(&eurusd_m1(), range(start, end))
}

/// Runs a write that the outage must fail: it fails retryably, within [`FAIL_WITHIN`].
async fn cut_short(write: impl Future<Output = Result<WriteSummary, RepositoryError>>) -> RepositoryError {
    let started = Instant::now();
    let outcome = tokio::time::timeout(HANG, write).await.expect("the write hangs while S3 is down");
    let took = started.elapsed();
    let err = outcome.expect_err("the write must fail while S3 is down");
    assert!(err.is_retryable(), "an outage is transient: {err:?}");
    assert!(took < FAIL_WITHIN, "the write failed only after {took:?}: {err:?}");
    err
}

async fn manifest(store: &dyn ObjectStore) -> Manifest {
    Manifest::from_json(&store.get(MANIFEST).await.expect("manifest").0).expect("a valid manifest")
}

/// Store keys of the partition objects that exist.
async fn objects(store: &dyn ObjectStore) -> BTreeSet<String> {
    store.list("hist/ohlcv/").await.expect("list").into_iter().map(|m| m.key).collect()
}

async fn verify(repo: &ParquetOhlcvRepository, repair: bool) -> VerifyReport {
    repo.verify(&VerifyOptions { date: None, repair }).await.expect("verify")
}

/// The consistency the outage must keep: every entry names an object that exists with the size
/// and md5 it records, and the only problems `verify` finds are orphans. Returns the orphans.
async fn assert_consistent(store: &dyn ObjectStore, repo: &ParquetOhlcvRepository) -> BTreeSet<String> {
    let m = manifest(store).await;
    for (relative, entry) in &m.objects {
        let (bytes, _) = store.get(&format!("{PREFIX}/{relative}")).await.expect("a listed object exists");
        assert_eq!((md5_hex(&bytes), bytes.len() as u64), (entry.md5.clone(), entry.size), "{relative}");
    }
    let report = verify(repo, false).await;
    assert_eq!(report.entries, m.objects.len(), "{report:?}");
    let mut orphans = BTreeSet::new();
    for problem in &report.problems {
        assert_eq!(problem.kind, ProblemKind::Orphan, "only orphans may be left: {report:?}");
        orphans.insert(problem.key.clone());
    }
    let listed: BTreeSet<String> = m.objects.keys().map(|k| format!("{PREFIX}/{k}")).collect();
    let unlisted: BTreeSet<String> = objects(store).await.difference(&listed).cloned().collect();
    assert_eq!(orphans, unlisted, "verify names every unlisted object, and only those");
    orphans
}

/// The bars of `written` that lie in the partitions the manifest lists.
fn listed_bars(m: &Manifest, written: &OhlcvSeries) -> OhlcvSeries {
    let mut expected = OhlcvSeries::empty(written.key().clone());
    for relative in m.objects.keys() {
        let (key, partition) = parse_object_key(relative).expect("a partition object");
        assert_eq!(&key, written.key());
        expected.merge(&written.slice(partition.range())).expect("merge");
    }
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_down_mid_upsert_fails_retryably_and_keeps_the_manifest_consistent() {
    let proxy = FaultProxy::start(&aws_endpoint()).await;
    let (store, direct) = stores(&proxy).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&store), PREFIX);
    let check = ParquetOhlcvRepository::new(Arc::clone(&direct), PREFIX);
    let k = eurusd_m1();
    // Twenty days from Monday 1 September 2025: 17 daily partitions (FX opens Sunday 21:00).
    let written = m1(t(2025, 9, 1), t(2025, 9, 21));
    let partitions = written.bars().iter().map(|b| b.open_time().date_naive()).collect::<BTreeSet<_>>().len();
    assert_eq!(partitions, 17);

    // S3 goes away at the ninth partition object, with writes of others in flight.
    const FORWARDED: usize = 8;
    proxy.arm(Trip::AfterDataPuts(FORWARDED));
    cut_short(repo.upsert(&written)).await;
    assert!(proxy.is_down(), "the outage came from the proxy");
    assert_eq!(proxy.puts().0, FORWARDED, "exactly {FORWARDED} objects were sent before the outage");
    // Reads fail the same way while it lasts; they never answer from a part of the history.
    let err = repo.get_range(&k, everything()).await.expect_err("no read while S3 is down");
    assert!(err.is_retryable(), "{err:?}");
    proxy.up();

    let stored = objects(direct.as_ref()).await;
    let m = manifest(direct.as_ref()).await;
    assert!(stored.len() <= FORWARDED && stored.len() < partitions, "{stored:?}");
    assert!(!m.objects.is_empty(), "some partitions were written and listed before the outage");
    let orphans = assert_consistent(direct.as_ref(), &check).await;
    assert_eq!(orphans.len() + m.objects.len(), stored.len());

    // Reads show exactly the listed partitions, each whole; coverage agrees.
    let visible = listed_bars(&m, &written);
    assert_eq!(repo.get_range(&k, everything()).await.expect("read after the outage"), visible);
    assert_eq!(repo.coverage(&k).await.expect("coverage").map(|c| c.rows), Some(visible.len() as u64));

    // The same upsert again, through the same repository: it completes and loses nothing.
    let summary = tokio::time::timeout(HANG, repo.upsert(&written)).await.expect("the rerun hangs").expect("rerun");
    assert_eq!(summary.updated, 0, "{summary:?}");
    assert_eq!(summary.inserted + summary.unchanged, written.len() as u64, "{summary:?}");
    assert!(summary.unchanged >= visible.len() as u64, "{summary:?}");
    let report = verify(&check, false).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.entries, report.objects), (partitions, partitions), "{report:?}");
    assert_eq!(repo.get_range(&k, everything()).await.expect("read"), written);
    assert_eq!(check.get_range(&k, everything()).await.expect("read"), written);
    proxy.assert_framed();
}

/// How the history catches up with an orphan.
#[derive(Debug, Clone, Copy)]
enum Recovery {
    /// `verify` with `repair` (`axia data verify --repair`).
    Repair,
    /// The collector's next upsert of the same bars.
    Upsert,
}

#[rstest]
#[case::repair(Recovery::Repair)]
#[case::next_upsert(Recovery::Upsert)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_down_between_the_object_and_the_manifest_leaves_an_orphan_reads_ignore(#[case] recovery: Recovery) {
    let proxy = FaultProxy::start(&aws_endpoint()).await;
    let (store, direct) = stores(&proxy).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&store), PREFIX);
    let check = ParquetOhlcvRepository::new(Arc::clone(&direct), PREFIX);
    let k = eurusd_m1();
    // Tuesday and Wednesday, then Thursday 2 October 2025.
    let history = m1(t(2025, 9, 30), t(2025, 10, 2));
    repo.upsert(&history).await.expect("history");
    let before = direct.get(MANIFEST).await.expect("manifest").0;
    let thursday = m1(t(2025, 10, 2), t(2025, 10, 3));
    let orphan = "hist/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-02/data.parquet";

    proxy.arm(Trip::AtManifestPut);
    cut_short(repo.upsert(&thursday)).await;
    assert!(proxy.is_down());
    assert_eq!(proxy.puts(), (1, 0), "the object went through, its manifest update did not");
    proxy.up();

    let (bytes, _) = direct.get(orphan).await.expect("the object was written");
    assert_eq!(direct.get(MANIFEST).await.expect("manifest").0, before, "the manifest is as it was");
    assert_eq!(assert_consistent(direct.as_ref(), &check).await, BTreeSet::from([orphan.to_string()]));
    // The manifest is the commit record: the unlisted day is not part of the history yet.
    assert_eq!(repo.get_range(&k, everything()).await.expect("read"), history);
    assert_eq!(repo.coverage(&k).await.expect("coverage").map(|c| c.rows), Some(history.len() as u64));

    match recovery {
        Recovery::Repair => {
            let repaired = verify(&check, true).await;
            assert!(repaired.is_ok(), "{repaired:?}");
            let actions: Vec<_> = repaired.repaired.iter().map(|r| (r.key.as_str(), r.action)).collect();
            assert_eq!(actions, [(orphan, RepairAction::Listed)]);
        }
        Recovery::Upsert => {
            let summary = repo.upsert(&thursday).await.expect("the next upsert");
            assert_eq!((summary.inserted, summary.unchanged), (0, thursday.len() as u64), "{summary:?}");
        }
    }
    let entry = &manifest(direct.as_ref()).await.objects[orphan.strip_prefix("hist/").expect("prefix")];
    assert_eq!((entry.md5.clone(), entry.rows), (md5_hex(&bytes), thursday.len() as u64));
    assert!(verify(&check, false).await.is_ok());
    let mut all = history.clone();
    all.merge(&thursday).expect("merge");
    assert_eq!(repo.get_range(&k, everything()).await.expect("read"), all);
    proxy.assert_framed();
}

/// A rewrite of a listed partition cut before its manifest update: S3 has no rename, so the
/// object is replaced in place and its entry lags (documented on the repository: such an entry
/// is read from the object as it is). `verify` names the stale entry as a mismatch, never a
/// missing object, and the rerun of the upsert or a repair brings the entry up to date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_down_between_a_rewrite_and_the_manifest_leaves_an_entry_the_rerun_updates() {
    let proxy = FaultProxy::start(&aws_endpoint()).await;
    let (store, direct) = stores(&proxy).await;
    let repo = ParquetOhlcvRepository::new(Arc::clone(&store), PREFIX);
    let check = ParquetOhlcvRepository::new(Arc::clone(&direct), PREFIX);
    let k = eurusd_m1();
    // Tuesday and the morning of Wednesday 1 October 2025, then Wednesday afternoon.
    let noon = Utc.with_ymd_and_hms(2025, 10, 1, 12, 0, 0).single().expect("time");
    let morning = m1(t(2025, 9, 30), noon);
    repo.upsert(&morning).await.expect("history");
    let afternoon = m1(noon, t(2025, 10, 2));
    let wednesday = "hist/ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-01/data.parquet";

    proxy.arm(Trip::AtManifestPut);
    cut_short(repo.upsert(&afternoon)).await;
    assert_eq!(proxy.puts(), (1, 0), "the object was rewritten, its manifest update did not happen");
    proxy.up();

    let report = verify(&check, false).await;
    let stale = |kind: &ProblemKind| matches!(kind, ProblemKind::SizeMismatch { .. } | ProblemKind::Md5Mismatch { .. });
    assert!(
        matches!(report.problems.as_slice(), [p] if p.key == wednesday && stale(&p.kind)),
        "the rewritten partition's entry, and only it, is stale: {report:?}"
    );
    let mut all = morning.clone();
    all.merge(&afternoon).expect("merge");
    assert_eq!(repo.get_range(&k, everything()).await.expect("read"), all, "the object is read as it is");
    // Coverage comes from the manifest: it still ends at noon.
    let lagging = repo.coverage(&k).await.expect("coverage").expect("some");
    assert_eq!((lagging.rows, lagging.last), (morning.len() as u64, noon - chrono::TimeDelta::minutes(1)));

    let summary = repo.upsert(&afternoon).await.expect("rerun");
    assert_eq!((summary.inserted, summary.unchanged), (0, afternoon.len() as u64), "{summary:?}");
    assert!(verify(&check, false).await.is_ok());
    assert_eq!(repo.coverage(&k).await.expect("coverage").map(|c| c.rows), Some(all.len() as u64));
    assert_eq!(repo.get_range(&k, everything()).await.expect("read"), all);
    proxy.assert_framed();
}
