//! One chart request with retries, and the mapping of HTTP answers to [`SourceError`].
//!
//! 404 is an unknown symbol; 400 and 422 (invalid interval or range) are permanent and carry
//! Yahoo's description; 408, 429 and 5xx, timeouts and connection failures are retried with
//! backoff and become [`SourceError::Unavailable`] once the retries are spent; anything else that
//! cannot be read is [`SourceError::InvalidResponse`] with an excerpt of the body.

use axia_domain::ports::SourceError;
use axia_domain::{Symbol, TimeRange};
use reqwest::StatusCode;

use super::retry;
use super::symbols::{Interval, encode_path_segment};
use super::wire::{ChartResult, Envelope, excerpt};
use super::{NAME, YahooSource};

/// How many characters of a body an error message quotes.
const EXCERPT: usize = 200;

/// What one answer means.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The chart result (absent: no bars).
    Chart(Option<ChartResult>),
    /// A transient failure worth another attempt: what happened.
    Retry(String),
    /// A permanent failure.
    Fail(SourceError),
}

/// What the answer `status` / `body` to a request for `symbol` (`ticker` on Yahoo) means.
pub(crate) fn classify(status: u16, body: &[u8], symbol: &Symbol, ticker: &str) -> Outcome {
    let parsed = serde_json::from_slice::<Envelope>(body);
    let described = || match &parsed {
        Ok(Envelope { chart }) => chart.error.as_ref().map(|e| format!("{}: {}", e.code, e.description)),
        Err(_) => None,
    };
    let unknown = |why: String| {
        let shown = if ticker == symbol.as_str() { symbol.to_string() } else { format!("{symbol} (Yahoo {ticker})") };
        Outcome::Fail(SourceError::UnknownSymbol { source_name: NAME.into(), symbol: format!("{shown}: {why}") })
    };
    match status {
        200 => match parsed {
            Ok(Envelope { chart }) => match (chart.error, chart.result) {
                (Some(e), _) if e.code.eq_ignore_ascii_case("Not Found") => unknown(e.description),
                (Some(e), _) => Outcome::Fail(unsupported(format!("{}: {}", e.code, e.description))),
                (None, Some(mut results)) if !results.is_empty() => Outcome::Chart(Some(results.swap_remove(0))),
                (None, _) => Outcome::Chart(None),
            },
            Err(e) => Outcome::Fail(invalid(format!("{e}; body starts {:?}", excerpt(body, EXCERPT)))),
        },
        404 => unknown(described().unwrap_or_else(|| "HTTP 404".into())),
        400 | 422 => Outcome::Fail(unsupported(
            described().unwrap_or_else(|| format!("HTTP {status}: {}", excerpt(body, EXCERPT))),
        )),
        408 | 429 | 500..=599 => {
            Outcome::Retry(format!("HTTP {status}: {}", described().unwrap_or_else(|| excerpt(body, EXCERPT))))
        }
        _ => Outcome::Fail(invalid(format!("unexpected HTTP {status}: {}", excerpt(body, EXCERPT)))),
    }
}

fn unsupported(detail: String) -> SourceError {
    SourceError::Unsupported { source_name: NAME.into(), detail }
}

fn invalid(detail: String) -> SourceError {
    SourceError::InvalidResponse { source_name: NAME.into(), detail }
}

impl YahooSource {
    /// The chart URL of one window.
    pub(crate) fn chart_url(&self, ticker: &str, interval: Interval, window: TimeRange) -> String {
        format!(
            "{}/v8/finance/chart/{}?period1={}&period2={}&interval={}&includePrePost=false",
            self.settings.base_url.trim_end_matches('/'),
            encode_path_segment(ticker),
            window.start().timestamp(),
            window.end().timestamp(),
            interval.as_str()
        )
    }

    /// Requests one window, retrying transient failures.
    pub(crate) async fn request(
        &self,
        symbol: &Symbol,
        ticker: &str,
        interval: Interval,
        window: TimeRange,
    ) -> Result<Option<ChartResult>, SourceError> {
        let url = self.chart_url(ticker, interval, window);
        let mut attempt: u32 = 0;
        loop {
            tracing::debug!(%url, attempt, "yahoo chart request");
            let (detail, retry_after) = match self.client.get(&url).send().await {
                Ok(response) => {
                    let status = response.status();
                    let header = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match response.bytes().await {
                        Ok(body) => match classify(status.as_u16(), &body, symbol, ticker) {
                            Outcome::Chart(chart) => return Ok(chart),
                            Outcome::Fail(e) => return Err(e),
                            Outcome::Retry(detail) => (detail, header),
                        },
                        Err(e) => (self.transport_detail(&e, status), None),
                    }
                }
                Err(e) => (self.transport_detail(&e, StatusCode::OK), None),
            };
            if attempt >= self.settings.max_retries {
                return Err(SourceError::Unavailable {
                    source_name: NAME.into(),
                    detail: format!("{detail} (gave up after {} attempts)", attempt + 1),
                });
            }
            let server_wait = retry::retry_after(retry_after.as_deref(), self.clock.now());
            let wait = retry::delay(self.settings.retry_base_delay, attempt, server_wait);
            tracing::warn!(%symbol, ticker, attempt = attempt + 1, ?wait, %detail, "yahoo request failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A transport failure in words, naming the base URL.
    fn transport_detail(&self, e: &reqwest::Error, status: StatusCode) -> String {
        let base = &self.settings.base_url;
        if e.is_timeout() {
            format!("no answer from {base} within {:?}", self.settings.timeout)
        } else if e.is_connect() {
            format!("cannot connect to {base}: {}", root_cause(e))
        } else if e.is_body() || e.is_decode() {
            format!("the body of HTTP {status} from {base} broke off: {}", root_cause(e))
        } else {
            format!("request to {base} failed: {}", root_cause(e))
        }
    }
}

/// The innermost message of an error chain (reqwest's own message says little).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const NOT_FOUND: &str = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
    const UNPROCESSABLE: &str = r#"{"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"Invalid input - interval=4h is not supported"}}}"#;

    fn eurusd() -> Symbol {
        Symbol::new("EURUSD").unwrap()
    }

    #[test]
    fn not_found_names_both_symbols() {
        let Outcome::Fail(e) = classify(404, NOT_FOUND.as_bytes(), &eurusd(), "EURUSD=X") else { panic!() };
        assert!(matches!(e, SourceError::UnknownSymbol { .. }));
        let text = e.to_string();
        assert!(text.contains("EURUSD (Yahoo EURUSD=X)") && text.contains("may be delisted"), "{text}");
        let Outcome::Fail(e) = classify(404, b"", &Symbol::new("ZZZZ").unwrap(), "ZZZZ") else { panic!() };
        assert_eq!(e.to_string(), "yahoo: unknown symbol ZZZZ: HTTP 404");
    }

    #[test]
    fn unprocessable_is_permanent_and_carries_the_description() {
        let Outcome::Fail(e) = classify(422, UNPROCESSABLE.as_bytes(), &eurusd(), "EURUSD=X") else { panic!() };
        assert!(matches!(e, SourceError::Unsupported { .. }));
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("interval=4h is not supported"), "{e}");
    }

    #[rstest]
    #[case(429, "Too Many Requests\r\n")]
    #[case(500, "<html>Internal Server Error</html>")]
    #[case(502, "")]
    #[case(503, r#"{"chart":{"result":null,"error":{"code":"Service Unavailable","description":"try later"}}}"#)]
    #[case(408, "")]
    fn transient_statuses_are_retried(#[case] status: u16, #[case] body: &str) {
        let Outcome::Retry(detail) = classify(status, body.as_bytes(), &eurusd(), "EURUSD=X") else {
            panic!("{status} must be retried")
        };
        assert!(detail.starts_with(&format!("HTTP {status}")), "{detail}");
    }

    #[rstest]
    #[case(200, "<html>oops</html>", "body starts \"<html>oops</html>\"")]
    #[case(200, r#"{"chart": 5}"#, "invalid type")]
    #[case(403, "Forbidden", "unexpected HTTP 403: Forbidden")]
    fn garbage_is_an_invalid_response(#[case] status: u16, #[case] body: &str, #[case] message: &str) {
        let Outcome::Fail(e) = classify(status, body.as_bytes(), &eurusd(), "EURUSD=X") else { panic!() };
        assert!(matches!(e, SourceError::InvalidResponse { .. }), "{e:?}");
        assert!(e.to_string().contains(message), "{e}");
    }

    #[rstest]
    #[case(r#"{"chart":{"result":[],"error":null}}"#, false)]
    #[case(r#"{"chart":{"result":null,"error":null}}"#, false)]
    #[case(r#"{"chart":{"result":[{"meta":{"gmtoffset":0}}],"error":null}}"#, true)]
    fn ok_answers_give_the_first_result(#[case] body: &str, #[case] has_result: bool) {
        let Outcome::Chart(chart) = classify(200, body.as_bytes(), &eurusd(), "EURUSD=X") else { panic!() };
        assert_eq!(chart.is_some(), has_result);
    }

    #[test]
    fn an_error_inside_a_200_is_still_an_error() {
        let Outcome::Fail(e) = classify(200, NOT_FOUND.as_bytes(), &eurusd(), "EURUSD=X") else { panic!() };
        assert!(matches!(e, SourceError::UnknownSymbol { .. }));
    }
}
