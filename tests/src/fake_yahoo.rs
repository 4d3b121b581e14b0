//! `FakeYahoo`: a local stand-in for the Yahoo Finance chart API, for the adapter's integration
//! tests and the CLI's end-to-end tests.
//!
//! It serves the recorded-format fixtures of `tests/fixtures/yahoo/` per ticker and interval and
//! behaves like Yahoo where the adapter depends on it: it answers only the bars with
//! `period1 <= timestamp < period2` (a result without `timestamp` when none), refuses windows
//! longer than Yahoo allows per interval with 422, and answers unknown tickers with Yahoo's 404
//! body. It can be told to fail (429, 5xx, 404, 422 or any body) a number of times or always, and
//! to answer slowly; it records every chart request.
//!
//! ```no_run
//! # async fn demo() {
//! use axia_tests::fake_yahoo::FakeYahoo;
//! let fake = FakeYahoo::start().await;
//! fake.fail_next("EURUSD=X", 429, 1);
//! let settings = fake.settings(); // base_url of the fake, tiny retry delays
//! // … YahooSource::new(settings, Arc::new(FixedClock::new(FakeYahoo::now()))) …
//! assert_eq!(fake.requests_for("EURUSD=X").len(), 0);
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axia_adapters::yahoo::YahooSettings;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The fixtures served from the start: `(ticker, interval, file)`.
pub const STANDARD_FIXTURES: [(&str, &str, &str); 6] = [
    ("EURUSD=X", "1m", "eurusd_1m.json"),
    ("EURUSD=X", "60m", "eurusd_60m.json"),
    ("EURUSD=X", "1d", "eurusd_1d.json"),
    ("USDJPY=X", "60m", "usdjpy_60m.json"),
    ("USDJPY=X", "1d", "usdjpy_1d.json"),
    ("AAPL", "1d", "aapl_1d.json"),
];

/// One chart request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRequest {
    /// The ticker of the path, percent-decoded (`EURUSD=X`, `^GSPC`).
    pub ticker: String,
    /// The `interval` parameter.
    pub interval: String,
    /// The `period1` parameter (unix seconds), 0 when missing.
    pub period1: i64,
    /// The `period2` parameter (unix seconds), 0 when missing.
    pub period2: i64,
    /// The `includePrePost` parameter.
    pub include_pre_post: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
struct Failure {
    status: u16,
    body: String,
    retry_after: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    charts: HashMap<(String, String), Value>,
    pending: HashMap<String, VecDeque<Failure>>,
    always: HashMap<String, Failure>,
    delays: HashMap<String, Duration>,
    requests: Vec<ChartRequest>,
}

/// A running fake of the chart API; stops when dropped.
#[derive(Debug)]
pub struct FakeYahoo {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeYahoo {
    /// Starts the fake on a free local port, serving [`STANDARD_FIXTURES`].
    ///
    /// # Panics
    /// When a fixture file is missing or is not JSON (a defect of the test crate).
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(method("GET"))
            .and(path_regex(r"^/v8/finance/chart/[^/]+$"))
            .respond_with(Responder(Arc::clone(&state)))
            .mount(&server)
            .await;
        let fake = Self { server, state };
        for (ticker, interval, file) in STANDARD_FIXTURES {
            fake.serve(ticker, interval, fixture_json(file));
        }
        fake
    }

    /// A clock time at which every standard fixture lies inside Yahoo's per-interval limits
    /// (2018-01-26 12:00 UTC: the 1m fixture is 3 to 11 days old).
    #[must_use]
    pub fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2018, 1, 26, 12, 0, 0).single().unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// The base URL to put in `YahooSettings::base_url` (`http://127.0.0.1:PORT`).
    #[must_use]
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// Settings pointing at the fake: 5 s timeout, 2 retries, 1 ms base delay.
    #[must_use]
    pub fn settings(&self) -> YahooSettings {
        YahooSettings {
            base_url: self.base_url(),
            timeout: Duration::from_secs(5),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(1),
        }
    }

    /// Serves `response` (a whole chart answer) for `ticker` at `interval`, replacing any fixture.
    pub fn serve(&self, ticker: &str, interval: &str, response: Value) {
        self.lock().charts.insert((ticker.to_string(), interval.to_string()), response);
    }

    /// Answers the next `times` requests for `ticker` with `status` and Yahoo's body for it.
    pub fn fail_next(&self, ticker: &str, status: u16, times: usize) {
        self.push_failures(ticker, Failure { status, body: body_for(status), retry_after: None }, times);
    }

    /// Like [`FakeYahoo::fail_next`], with a `Retry-After: <seconds>` header.
    pub fn fail_next_with_retry_after(&self, ticker: &str, status: u16, times: usize, seconds: u64) {
        self.push_failures(ticker, Failure { status, body: body_for(status), retry_after: Some(seconds) }, times);
    }

    /// Answers every request for `ticker` with `status` and Yahoo's body for it.
    pub fn fail_always(&self, ticker: &str, status: u16) {
        self.answer_always(ticker, status, &body_for(status));
    }

    /// Answers every request for `ticker` with `status` and `body` (e.g. garbage).
    pub fn answer_always(&self, ticker: &str, status: u16, body: &str) {
        self.lock().always.insert(ticker.to_string(), Failure { status, body: body.to_string(), retry_after: None });
    }

    /// Delays every answer for `ticker` by `by`.
    pub fn delay(&self, ticker: &str, by: Duration) {
        self.lock().delays.insert(ticker.to_string(), by);
    }

    /// Every chart request received, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<ChartRequest> {
        self.lock().requests.clone()
    }

    /// The chart requests received for `ticker`, in order.
    #[must_use]
    pub fn requests_for(&self, ticker: &str) -> Vec<ChartRequest> {
        self.lock().requests.iter().filter(|r| r.ticker == ticker).cloned().collect()
    }

    fn push_failures(&self, ticker: &str, failure: Failure, times: usize) {
        let mut state = self.lock();
        let queue = state.pending.entry(ticker.to_string()).or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The path of a fixture file of `tests/fixtures/yahoo/`.
#[must_use]
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/yahoo").join(name)
}

/// A fixture file of `tests/fixtures/yahoo/`, parsed.
///
/// # Panics
/// When the file is missing or is not JSON.
#[must_use]
pub fn fixture_json(name: &str) -> Value {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Yahoo's body for an error status.
fn body_for(status: u16) -> String {
    match status {
        404 => fixture_json("not_found.json").to_string(),
        422 => fixture_json("unprocessable.json").to_string(),
        429 => "Too Many Requests\r\n".into(),
        _ => format!("<html><body>HTTP {status} from the fake Yahoo</body></html>"),
    }
}

/// The longest window Yahoo accepts per request, in days.
fn max_window_days(interval: &str) -> Option<i64> {
    match interval {
        "1m" => Some(7),
        "2m" | "5m" | "15m" | "30m" | "90m" => Some(60),
        "60m" | "1h" => Some(730),
        _ => None,
    }
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let raw = request.url.path().rsplit('/').next().unwrap_or_default();
        let ticker = percent_decode(raw);
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let number = |k: &str| query.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let req = ChartRequest {
            ticker: ticker.clone(),
            interval: query.get("interval").cloned().unwrap_or_default(),
            period1: number("period1"),
            period2: number("period2"),
            include_pre_post: query.get("includePrePost").cloned(),
            user_agent: request.headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_string),
        };
        state.requests.push(req.clone());
        let delay = state.delays.get(&ticker).copied().unwrap_or_default();
        let failure =
            state.pending.get_mut(&ticker).and_then(VecDeque::pop_front).or_else(|| state.always.get(&ticker).cloned());
        let answer = if let Some(f) = failure {
            let mut t = ResponseTemplate::new(f.status).set_body_raw(f.body, content_type(f.status));
            if let Some(s) = f.retry_after {
                t = t.insert_header("Retry-After", s.to_string().as_str());
            }
            t
        } else {
            chart_answer(&state, &req)
        };
        answer.set_delay(delay)
    }
}

fn content_type(status: u16) -> &'static str {
    if matches!(status, 404 | 422) { "application/json" } else { "text/html" }
}

fn unprocessable(description: &str) -> ResponseTemplate {
    let body = serde_json::json!({"chart": {"result": null, "error": {"code": "Unprocessable Entity", "description": description}}});
    ResponseTemplate::new(422).set_body_raw(body.to_string(), "application/json")
}

fn chart_answer(state: &State, req: &ChartRequest) -> ResponseTemplate {
    if let Some(days) = max_window_days(&req.interval)
        && req.period2 - req.period1 > days * 86_400
    {
        return unprocessable(&format!(
            "{} data not available for startTime={} and endTime={}. Only {days} days worth of {} granularity data are allowed to be fetched per request.",
            req.interval, req.period1, req.period2, req.interval
        ));
    }
    if req.period2 <= req.period1 {
        return unprocessable(&format!("Invalid input - period2 {} is not after period1 {}", req.period2, req.period1));
    }
    match state.charts.get(&(req.ticker.clone(), req.interval.clone())) {
        Some(full) => {
            let body = slice_chart(full, req.period1, req.period2);
            ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
        }
        None if state.charts.keys().any(|(t, _)| *t == req.ticker) => {
            unprocessable(&format!("Invalid input - the fake Yahoo has no {} fixture for {}", req.interval, req.ticker))
        }
        None => ResponseTemplate::new(404).set_body_raw(body_for(404), "application/json"),
    }
}

/// The answer restricted to `period1 <= timestamp < period2`, the way Yahoo answers a window.
fn slice_chart(full: &Value, period1: i64, period2: i64) -> Value {
    let mut answer = full.clone();
    let Some(result) = answer.pointer_mut("/chart/result/0") else { return answer };
    let keep: Vec<bool> = result
        .get("timestamp")
        .and_then(Value::as_array)
        .map(|ts| ts.iter().map(|t| t.as_i64().is_some_and(|t| period1 <= t && t < period2)).collect())
        .unwrap_or_default();
    if !keep.contains(&true) {
        if let Some(obj) = result.as_object_mut() {
            obj.remove("timestamp");
            obj.insert("indicators".into(), serde_json::json!({"quote": [{}]}));
        }
        return answer;
    }
    let filter = |v: &mut Value| {
        if let Some(items) = v.as_array_mut() {
            let mut i = 0;
            items.retain(|_| {
                let k = keep.get(i).copied().unwrap_or(false);
                i += 1;
                k
            });
        }
    };
    if let Some(ts) = result.get_mut("timestamp") {
        filter(ts);
    }
    if let Some(indicators) = result.get_mut("indicators").and_then(Value::as_object_mut) {
        for group in indicators.values_mut().filter_map(Value::as_array_mut) {
            for series in group.iter_mut().filter_map(Value::as_object_mut) {
                series.values_mut().for_each(filter);
            }
        }
    }
    answer
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = raw.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_like_yahoo() {
        let full = fixture_json("eurusd_60m.json");
        let first = full.pointer("/chart/result/0/timestamp/0").and_then(Value::as_i64).unwrap();
        let part = slice_chart(&full, first, first + 3 * 3600);
        let ts = part.pointer("/chart/result/0/timestamp").and_then(Value::as_array).unwrap();
        assert_eq!(ts.len(), 3);
        let closes = part.pointer("/chart/result/0/indicators/quote/0/close").and_then(Value::as_array).unwrap();
        assert_eq!(closes.len(), 3);
        let none = slice_chart(&full, 0, 10);
        assert!(none.pointer("/chart/result/0/timestamp").is_none());
        assert!(none.pointer("/chart/result/0/meta/gmtoffset").is_some());
    }

    #[test]
    fn decodes_tickers() {
        assert_eq!(percent_decode("%5EGSPC"), "^GSPC");
        assert_eq!(percent_decode("EURUSD=X"), "EURUSD=X");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }
}
