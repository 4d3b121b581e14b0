//! Whether the bridge (and the terminal behind it) answered the last request: updated by every
//! request, read by [`super::Mt5Bridge::connection_status`] (a metric later).

use std::sync::{Arc, Mutex, PoisonError};

use axia_domain::Clock;
use chrono::{DateTime, Utc};

/// The connection state seen by the last request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionStatus {
    /// True when the last request reached the bridge and the bridge reached the terminal
    /// (any answer but 401, 503 or a 5xx). False before the first request.
    pub connected: bool,
    /// When `connected` last changed (or was first set); `None` before the first request.
    pub last_change: Option<DateTime<Utc>>,
    /// The latest failure (kept after a recovery, so that it can still be read); never holds
    /// the token.
    pub last_error: Option<String>,
}

/// The shared, updatable status.
#[derive(Debug)]
pub(crate) struct StatusTracker {
    clock: Arc<dyn Clock>,
    state: Mutex<ConnectionStatus>,
}

impl StatusTracker {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, state: Mutex::new(ConnectionStatus::default()) }
    }

    pub(crate) fn get(&self) -> ConnectionStatus {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Records the outcome of a request: `Ok` connected, `Err(message)` disconnected.
    pub(crate) fn record(&self, outcome: Result<(), &str>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let connected = outcome.is_ok();
        if let Err(message) = outcome {
            state.last_error = Some(message.to_owned());
        }
        if state.connected != connected || state.last_change.is_none() {
            if connected {
                tracing::info!(source = "mt5_bridge", "bridge connected");
            } else {
                tracing::warn!(source = "mt5_bridge", error = state.last_error.as_deref(), "bridge disconnected");
            }
            state.connected = connected;
            state.last_change = Some(self.clock.now());
        }
    }

    /// Records an error that says nothing about the connection (an answer that could not be
    /// read).
    pub(crate) fn note_error(&self, message: &str) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).last_error = Some(message.to_owned());
    }
}
