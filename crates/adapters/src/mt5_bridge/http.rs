//! Sends one request to the bridge and classifies its outcome into [`Mt5BridgeError`]; every
//! request updates the connection status. The token goes into a sensitive header and is
//! scrubbed from every message.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::Mt5BridgeError;
use super::status::StatusTracker;
use super::token::{BridgeToken, scrub};
use super::wire::ErrorBody;

/// The longest piece of an unreadable answer quoted in an error.
const QUOTE_LIMIT: usize = 200;

/// The HTTP side of the client.
#[derive(Debug)]
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) token: Option<BridgeToken>,
    pub(crate) auth: Option<HeaderValue>,
    pub(crate) timeout: Duration,
    pub(crate) status: StatusTracker,
}

impl Http {
    /// The URL of `segments` below the base URL (each segment percent-encoded), with `query`.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// `GET` a JSON answer.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, Mt5BridgeError> {
        self.send::<(), T>(Method::GET, segments, query, None).await
    }

    /// `POST` a JSON body, for a JSON answer.
    pub(crate) async fn post<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, Mt5BridgeError> {
        self.send(Method::POST, segments, &[], Some(body)).await
    }

    async fn send<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, Mt5BridgeError> {
        let url = self.url(segments, query);
        let path = url.path().to_owned();
        let outcome = self.exchange(method.clone(), url, body).await;
        match &outcome {
            Ok(_) => self.status.record(Ok(())),
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(source = "mt5_bridge", %method, path, error = %message, "bridge request failed");
                match e.connected() {
                    Some(true) => {
                        self.status.record(Ok(()));
                        self.status.note_error(&message);
                    }
                    Some(false) => self.status.record(Err(&message)),
                    None => self.status.note_error(&message),
                }
            }
        }
        outcome
    }

    async fn exchange<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, Mt5BridgeError> {
        let mut request = self.client.request(method, url);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| Mt5BridgeError::InvalidResponse {
                detail: self.scrub(&format!("HTTP {status}: {e}; the answer began {:?}", quote(&bytes))),
            });
        }
        Err(self.refusal(status, &bytes))
    }

    /// An error of the HTTP stack: not sent (connect), timed out, or cut off.
    fn transport(&self, e: &reqwest::Error) -> Mt5BridgeError {
        // The chain of sources says why (refused, reset, DNS); the URL is fine to show.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        let detail = self.scrub(&detail);
        if e.is_connect() {
            Mt5BridgeError::Unreachable { detail }
        } else if e.is_timeout() {
            Mt5BridgeError::Timeout { timeout_ms: self.timeout.as_millis(), detail }
        } else if e.is_builder() {
            // Failed before anything went out (a URL or header the stack refuses).
            Mt5BridgeError::Unreachable { detail }
        } else {
            // Anything else (a reset, a connection closed before the answer) may have come
            // after the request went out: an order may have been executed.
            Mt5BridgeError::Transport { detail }
        }
    }

    /// An error answer: the protocol's error body, or whatever the answer held.
    fn refusal(&self, status: StatusCode, bytes: &[u8]) -> Mt5BridgeError {
        let (code, message, retcode) = match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(ErrorBody { error }) => (error.code, self.scrub(&error.message), error.retcode),
            Err(_) => {
                let code = status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "_");
                (code, self.scrub(&format!("no protocol error body: {:?}", quote(bytes))), None)
            }
        };
        match status.as_u16() {
            401 => Mt5BridgeError::Unauthorized { detail: if message.is_empty() { code } else { message } },
            503 => Mt5BridgeError::Disconnected { code, message },
            s @ 400..=499 => Mt5BridgeError::Refused { status: s, code, message, retcode },
            s => Mt5BridgeError::Server { status: s, code, message },
        }
    }

    fn scrub(&self, text: &str) -> String {
        scrub(text, self.token.as_ref())
    }
}

/// The start of an answer, as text.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars().take(QUOTE_LIMIT).collect()
}
