//! [`OrderProcessor`]: the daemon loop of `axia orders run` — receive a batch, process each
//! message, then delete, dead-letter or leave it; keep messages in flight invisible; stop on
//! shutdown (after the batch in hand), when idle, or after a number of messages; beat a
//! heartbeat throughout.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::Clock;
use axia_domain::SystemEvent;
use axia_domain::ports::{EventPublisher, OrderQueue, QueueMessage};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use super::{Disposition, Outcome, ProcessOrder};

/// The largest batch a receive asks for (the SQS limit).
pub const MAX_BATCH: usize = 10;

/// What processes one message; [`ProcessOrder`] in production.
#[async_trait]
pub trait MessageHandler: Send + Sync + fmt::Debug {
    /// Processes one message; the outcome says what to do with it.
    async fn handle(&self, message: &QueueMessage) -> Outcome;
}

#[async_trait]
impl MessageHandler for ProcessOrder {
    async fn handle(&self, message: &QueueMessage) -> Outcome {
        Self::handle(self, message).await
    }
}

/// Told regularly that the daemon is alive (the CLI mirrors it to Redis `system:status` and
/// to metrics). Implementations deal with their own failures.
#[async_trait]
pub trait Heartbeat: Send + Sync + fmt::Debug {
    /// The daemon is alive at `at`, with these totals so far.
    async fn beat(&self, at: DateTime<Utc>, summary: &RunSummary);
}

/// A [`Heartbeat`] that publishes [`SystemEvent::Heartbeat`] (best effort).
#[derive(Debug, Clone)]
pub struct EventHeartbeat {
    events: Arc<dyn EventPublisher>,
    component: String,
}

impl EventHeartbeat {
    /// Publishes heartbeats of `component` to `events`.
    pub fn new(events: Arc<dyn EventPublisher>, component: impl Into<String>) -> Self {
        Self { events, component: component.into() }
    }
}

#[async_trait]
impl Heartbeat for EventHeartbeat {
    async fn beat(&self, at: DateTime<Utc>, _summary: &RunSummary) {
        let event = SystemEvent::Heartbeat { component: self.component.clone(), at };
        if let Err(e) = self.events.publish(&event).await {
            tracing::debug!(error = %e, "heartbeat not published");
        }
    }
}

/// How [`OrderProcessor::run`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Messages per receive, 1 to [`MAX_BATCH`] (clamped).
    pub batch_size: usize,
    /// Long-poll wait of a receive.
    pub wait: Duration,
    /// The queue's visibility timeout: a message in flight for half of it is made invisible
    /// for this long again, every half of it, until it is settled.
    pub visibility_extension: Duration,
    /// Stop when a receive returns nothing.
    pub until_idle: bool,
    /// Stop after receiving this many messages (each is processed before stopping).
    pub max_messages: Option<usize>,
    /// How often the heartbeat beats.
    pub heartbeat_every: Duration,
    /// First pause after a failed receive (doubled up to 30 s).
    pub error_backoff: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            batch_size: MAX_BATCH,
            wait: Duration::from_secs(20),
            visibility_extension: Duration::from_secs(60),
            until_idle: false,
            max_messages: None,
            heartbeat_every: Duration::from_secs(30),
            error_backoff: Duration::from_secs(1),
        }
    }
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum StopReason {
    /// Shutdown was requested (SIGTERM / SIGINT); the batch in hand was finished.
    Shutdown,
    /// `until_idle` and the queue had nothing.
    Idle,
    /// `max_messages` were received and processed.
    MaxMessages,
    /// The queue cannot be used (missing, invalid); an operator must act.
    QueueUnusable(String),
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Messages received.
    pub received: u64,
    /// Orders filled.
    pub filled: u64,
    /// Orders resting at the broker.
    pub working: u64,
    /// Orders rejected (recorded).
    pub rejected: u64,
    /// Duplicate deliveries (nothing executed).
    pub duplicates: u64,
    /// Messages moved to the dead-letter queue.
    pub dead_lettered: u64,
    /// Messages left for redelivery.
    pub retried: u64,
    /// Queue operations that failed (receive, delete, dead-letter).
    pub errors: u64,
    /// Why the run ended; `None` while it runs.
    pub stopped_by: Option<StopReason>,
}

impl RunSummary {
    fn count(&mut self, outcome: &Outcome) {
        let n = match outcome {
            Outcome::Filled { .. } => &mut self.filled,
            Outcome::Working { .. } => &mut self.working,
            Outcome::Rejected { .. } => &mut self.rejected,
            Outcome::Duplicate { .. } => &mut self.duplicates,
            Outcome::DeadLetter { .. } => &mut self.dead_lettered,
            Outcome::Retry { .. } => &mut self.retried,
        };
        *n += 1;
    }
}

/// The order daemon loop (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct OrderProcessor {
    queue: Arc<dyn OrderQueue>,
    handler: Arc<dyn MessageHandler>,
    clock: Arc<dyn Clock>,
    heartbeat: Option<Arc<dyn Heartbeat>>,
}

/// Totals shared between the loop and the heartbeat.
type Shared = Mutex<RunSummary>;

fn update(shared: &Shared, f: impl FnOnce(&mut RunSummary)) {
    f(&mut shared.lock().unwrap_or_else(PoisonError::into_inner));
}

fn snapshot(shared: &Shared) -> RunSummary {
    shared.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Resolves once shutdown is requested; never when the sender is gone without asking.
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl OrderProcessor {
    /// The loop over `queue`, processing with `process`.
    #[must_use]
    pub fn new(queue: Arc<dyn OrderQueue>, process: ProcessOrder) -> Self {
        let clock = Arc::clone(process.clock());
        Self::with_handler(queue, Arc::new(process), clock)
    }

    /// The loop over `queue` with any [`MessageHandler`].
    #[must_use]
    pub fn with_handler(queue: Arc<dyn OrderQueue>, handler: Arc<dyn MessageHandler>, clock: Arc<dyn Clock>) -> Self {
        Self { queue, handler, clock, heartbeat: None }
    }

    /// Beats `heartbeat` at the start, every [`RunOptions::heartbeat_every`] and at the end.
    #[must_use]
    pub fn with_heartbeat(mut self, heartbeat: Arc<dyn Heartbeat>) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Runs until shutdown (`true` on `shutdown`), idle (`until_idle`) or `max_messages`, or
    /// until the queue is unusable. Transient queue failures are retried with backoff.
    pub async fn run(&self, options: RunOptions, mut shutdown: watch::Receiver<bool>) -> RunSummary {
        let shared = Mutex::new(RunSummary::default());
        self.beat(&shared).await;
        let stop = tokio::select! {
            biased;
            stop = self.main_loop(&options, &mut shutdown, &shared) => stop,
            () = self.beat_loop(options.heartbeat_every, &shared) => unreachable_stop(),
        };
        update(&shared, |s| s.stopped_by = Some(stop));
        self.beat(&shared).await;
        let summary = snapshot(&shared);
        tracing::info!(?summary, "order processor stopped");
        summary
    }

    async fn main_loop(
        &self,
        options: &RunOptions,
        shutdown: &mut watch::Receiver<bool>,
        shared: &Shared,
    ) -> StopReason {
        let batch_size = options.batch_size.clamp(1, MAX_BATCH);
        let mut backoff = options.error_backoff;
        loop {
            if *shutdown.borrow() {
                return StopReason::Shutdown;
            }
            let received = usize::try_from(snapshot(shared).received).unwrap_or(usize::MAX);
            let want = match options.max_messages {
                Some(max) if received >= max => return StopReason::MaxMessages,
                Some(max) => batch_size.min(max - received),
                None => batch_size,
            };
            // A shutdown interrupts the long poll, but a batch already received is processed
            // first. An interrupted receive loses nothing: what the queue handed out but we
            // never saw becomes visible again after the visibility timeout.
            let batch = tokio::select! {
                biased;
                batch = self.queue.receive(want, options.wait) => batch,
                () = shutdown_requested(shutdown) => return StopReason::Shutdown,
            };
            match batch {
                Ok(messages) if messages.is_empty() => {
                    backoff = options.error_backoff;
                    if options.until_idle {
                        return StopReason::Idle;
                    }
                }
                Ok(messages) => {
                    backoff = options.error_backoff;
                    update(shared, |s| s.received += messages.len() as u64);
                    self.process_batch(&messages, options, shared).await;
                }
                Err(e) if e.is_retryable() => {
                    update(shared, |s| s.errors += 1);
                    tracing::warn!(error = %e, pause = ?backoff, "receive failed; retrying");
                    tokio::select! {
                        biased;
                        () = shutdown_requested(shutdown) => return StopReason::Shutdown,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(e) => {
                    update(shared, |s| s.errors += 1);
                    tracing::error!(error = %e, "the order queue cannot be used; stopping");
                    return StopReason::QueueUnusable(e.to_string());
                }
            }
        }
    }

    /// Processes a batch in order while keeping its unsettled messages invisible.
    async fn process_batch(&self, messages: &[QueueMessage], options: &RunOptions, shared: &Shared) {
        let pending = Mutex::new(messages.to_vec());
        let work = async {
            for message in messages {
                let outcome = self.handler.handle(message).await;
                self.settle(message, &outcome, shared).await;
                pending.lock().unwrap_or_else(PoisonError::into_inner).retain(|m| m.receipt != message.receipt);
            }
        };
        let keep_invisible = async {
            let every = options.visibility_extension / 2;
            if every.is_zero() {
                return std::future::pending::<()>().await;
            }
            loop {
                tokio::time::sleep(every).await;
                let unsettled = pending.lock().unwrap_or_else(PoisonError::into_inner).clone();
                for m in &unsettled {
                    if let Err(e) = self.queue.extend(m, options.visibility_extension).await {
                        tracing::warn!(message_id = %m.id, error = %e, "visibility not extended");
                    }
                }
            }
        };
        tokio::select! {
            biased;
            () = work => {}
            () = keep_invisible => {}
        }
    }

    async fn settle(&self, message: &QueueMessage, outcome: &Outcome, shared: &Shared) {
        update(shared, |s| s.count(outcome));
        tracing::info!(message_id = %message.id, outcome = outcome.kind(), receive_count = message.receive_count, "message processed");
        let result = match outcome.disposition() {
            Disposition::Delete => self.queue.delete(message).await,
            Disposition::DeadLetter(reason) => self.queue.dead_letter(message, reason).await,
            Disposition::Leave => Ok(()),
        };
        if let Err(e) = result {
            // Not lost: the message is redelivered and found a duplicate (or dead-lettered again).
            update(shared, |s| s.errors += 1);
            tracing::warn!(message_id = %message.id, error = %e, "message not settled; it will be redelivered");
        }
    }

    async fn beat_loop(&self, every: Duration, shared: &Shared) {
        if self.heartbeat.is_none() || every.is_zero() {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(every).await;
            self.beat(shared).await;
        }
    }

    async fn beat(&self, shared: &Shared) {
        if let Some(h) = &self.heartbeat {
            h.beat(self.clock.now(), &snapshot(shared)).await;
        }
    }
}

/// The heartbeat loop never ends; this keeps `select!` total.
const fn unreachable_stop() -> StopReason {
    StopReason::Shutdown
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use axia_domain::ports::QueueError;
    use axia_domain::{ClientOrderId, FixedClock, Order, OrderRequest, OrderStatus, Position, Side, Trade};
    use chrono::TimeZone;
    use rstest::rstest;
    use rust_decimal::dec;

    use super::*;

    #[derive(Debug, Default)]
    struct QueueState {
        ready: VecDeque<QueueMessage>,
        in_flight: Vec<QueueMessage>,
        deleted: Vec<String>,
        dead: Vec<(String, String)>,
        extended: Vec<String>,
        asked: Vec<usize>,
        failures: Vec<QueueError>,
        fail_deletes: bool,
    }

    /// A queue whose received messages never become visible again (the test sees them in
    /// `in_flight`).
    #[derive(Debug, Default)]
    struct FakeQueue(Mutex<QueueState>);

    impl FakeQueue {
        fn with_bodies<'a>(bodies: impl IntoIterator<Item = &'a str>) -> Arc<Self> {
            let q = Self::default();
            for (i, b) in bodies.into_iter().enumerate() {
                q.state().ready.push_back(QueueMessage {
                    id: format!("m{i}"),
                    receipt: format!("r{i}"),
                    body: b.to_string(),
                    receive_count: 1,
                });
            }
            Arc::new(q)
        }

        fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn settle(&self, m: &QueueMessage) -> Result<(), QueueError> {
            let mut s = self.state();
            let before = s.in_flight.len();
            s.in_flight.retain(|x| x.receipt != m.receipt);
            if s.in_flight.len() == before {
                return Err(QueueError::StaleReceipt { detail: m.id.clone() });
            }
            Ok(())
        }
    }

    #[async_trait]
    impl OrderQueue for FakeQueue {
        async fn send(&self, body: &str) -> Result<String, QueueError> {
            let id = format!("s{}", self.state().ready.len());
            let m = QueueMessage { id: id.clone(), receipt: id.clone(), body: body.into(), receive_count: 1 };
            self.state().ready.push_back(m);
            Ok(id)
        }

        async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
            let batch = {
                let mut s = self.state();
                s.asked.push(max);
                if !s.failures.is_empty() {
                    return Err(s.failures.remove(0));
                }
                let n = max.min(s.ready.len());
                let batch: Vec<QueueMessage> = s.ready.drain(..n).collect();
                s.in_flight.extend(batch.iter().cloned());
                batch
            };
            if batch.is_empty() {
                tokio::time::sleep(wait).await;
            }
            Ok(batch)
        }

        async fn extend(&self, message: &QueueMessage, _by: Duration) -> Result<(), QueueError> {
            self.state().extended.push(message.id.clone());
            Ok(())
        }

        async fn delete(&self, message: &QueueMessage) -> Result<(), QueueError> {
            if self.state().fail_deletes {
                return Err(QueueError::Unavailable { detail: "503".into() });
            }
            self.settle(message)?;
            self.state().deleted.push(message.id.clone());
            Ok(())
        }

        async fn dead_letter(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError> {
            self.settle(message)?;
            self.state().dead.push((message.id.clone(), reason.to_string()));
            Ok(())
        }
    }

    /// Outcomes scripted by the message body: `fill`, `reject`, `dup`, `work`, `bad`, `retry`,
    /// `slow:<seconds>` (then work), `stop` (requests shutdown, then work).
    #[derive(Debug)]
    struct Script {
        shutdown: watch::Sender<bool>,
        handled: Mutex<Vec<String>>,
    }

    fn a_fill() -> Outcome {
        let body = r#"{"schema_version": 1, "client_order_id": "c", "symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "1"}"#;
        let spec = OrderRequest::parse(body).unwrap().spec();
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        let mut order = Order::received(spec.clone(), at);
        order.transition(OrderStatus::Accepted, at).unwrap();
        order.fill(dec!(1), dec!(1.1), at).unwrap();
        let trade = Trade::new("T", spec.client_order_id, None, spec.symbol.clone(), Side::Buy, dec!(1), dec!(1.1), at)
            .unwrap();
        let position = Position::open("P", "T", spec.symbol, Side::Buy, dec!(1), dec!(1.1), at).unwrap();
        Outcome::Filled { order: Box::new(order), trade: Box::new(trade), position: Box::new(position) }
    }

    #[async_trait]
    impl MessageHandler for Script {
        async fn handle(&self, message: &QueueMessage) -> Outcome {
            self.handled.lock().unwrap().push(message.id.clone());
            let id = ClientOrderId::new(&message.id).unwrap();
            let work = || Outcome::Working { client_order_id: id.clone(), broker_order_id: "B".into() };
            match message.body.as_str() {
                "fill" => a_fill(),
                "reject" => Outcome::Rejected { client_order_id: id, reason: "halted".into() },
                "dup" => Outcome::Duplicate { client_order_id: id, status: OrderStatus::Filled },
                "bad" => Outcome::DeadLetter { reason: "unparseable".into() },
                "retry" => Outcome::Retry { reason: "broker down".into() },
                "stop" => {
                    self.shutdown.send_replace(true);
                    work()
                }
                slow if slow.starts_with("slow:") => {
                    tokio::time::sleep(Duration::from_secs(slow[5..].parse().unwrap())).await;
                    work()
                }
                _ => work(),
            }
        }
    }

    #[derive(Debug, Default)]
    struct Beats(Mutex<Vec<RunSummary>>);

    #[async_trait]
    impl Heartbeat for Beats {
        async fn beat(&self, _at: DateTime<Utc>, summary: &RunSummary) {
            self.0.lock().unwrap().push(summary.clone());
        }
    }

    fn setup(queue: &Arc<FakeQueue>) -> (OrderProcessor, Arc<Script>, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let script = Arc::new(Script { shutdown: tx, handled: Mutex::new(Vec::new()) });
        let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap()));
        let processor = OrderProcessor::with_handler(
            Arc::clone(queue) as Arc<dyn OrderQueue>,
            Arc::clone(&script) as Arc<dyn MessageHandler>,
            clock,
        );
        (processor, script, rx)
    }

    fn idle() -> RunOptions {
        RunOptions { until_idle: true, wait: Duration::ZERO, ..RunOptions::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn settles_each_outcome_and_stops_when_idle() {
        let queue = FakeQueue::with_bodies(["fill", "reject", "dup", "bad", "retry", "work"]);
        let (processor, _, rx) = setup(&queue);
        let summary = processor.run(idle(), rx).await;
        let s = queue.state();
        assert_eq!(s.deleted, ["m0", "m1", "m2", "m5"]);
        assert_eq!(s.dead, [("m3".to_string(), "unparseable".to_string())]);
        assert_eq!(s.in_flight.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m4"]);
        let want = RunSummary {
            received: 6,
            filled: 1,
            working: 1,
            rejected: 1,
            duplicates: 1,
            dead_lettered: 1,
            retried: 1,
            errors: 0,
            stopped_by: Some(StopReason::Idle),
        };
        assert_eq!(summary, want);
    }

    #[rstest]
    #[case::within_batches(25, 10, Some(12), vec![10, 2], 12)]
    #[case::clamped_batch(25, 50, Some(12), vec![10, 2], 12)]
    #[case::more_than_there_is(3, 10, Some(12), vec![10, 9], 3)]
    #[tokio::test(start_paused = true)]
    async fn max_messages_bounds_what_is_received(
        #[case] n: usize,
        #[case] batch_size: usize,
        #[case] max: Option<usize>,
        #[case] asked: Vec<usize>,
        #[case] received: u64,
    ) {
        let queue = FakeQueue::with_bodies(vec!["work"; n]);
        let (processor, _, rx) = setup(&queue);
        let options = RunOptions { batch_size, max_messages: max, ..idle() };
        let summary = processor.run(options, rx).await;
        assert_eq!(queue.state().asked, asked);
        assert_eq!(summary.received, received);
        let stop = if received as usize == max.unwrap() { StopReason::MaxMessages } else { StopReason::Idle };
        assert_eq!(summary.stopped_by, Some(stop));
        assert_eq!(queue.state().ready.len(), n - received as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_mid_batch_finishes_the_batch_and_loses_nothing() {
        let queue = FakeQueue::with_bodies(["work", "stop", "slow:5", "work", "work", "work", "work"]);
        let (processor, script, rx) = setup(&queue);
        let options = RunOptions { batch_size: 5, ..RunOptions::default() };
        let summary = processor.run(options, rx).await;
        assert_eq!(summary.stopped_by, Some(StopReason::Shutdown));
        let s = queue.state();
        assert_eq!(s.asked, [5], "no receive after the shutdown");
        assert_eq!(s.deleted.len(), 5);
        assert!(s.in_flight.is_empty());
        assert_eq!(s.ready.len(), 2, "the rest was never received");
        assert_eq!(script.handled.lock().unwrap().len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_interrupts_the_long_poll() {
        let queue = FakeQueue::with_bodies([]);
        let (processor, script, rx) = setup(&queue);
        let options = RunOptions { wait: Duration::from_secs(20), ..RunOptions::default() };
        let started = tokio::time::Instant::now();
        let stopper = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            script.shutdown.send_replace(true);
        };
        let (summary, ()) = tokio::join!(processor.run(options, rx), stopper);
        assert_eq!(summary.stopped_by, Some(StopReason::Shutdown));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn messages_in_flight_stay_invisible() {
        let queue = FakeQueue::with_bodies(["slow:100", "work"]);
        let (processor, _, rx) = setup(&queue);
        let options = RunOptions { visibility_extension: Duration::from_secs(60), ..idle() };
        processor.run(options, rx).await;
        let s = queue.state();
        // Extended at 30 s, 60 s and 90 s, both the slow one and the one waiting behind it.
        assert_eq!(s.extended.iter().filter(|id| *id == "m0").count(), 3);
        assert_eq!(s.extended.iter().filter(|id| *id == "m1").count(), 3);
        assert_eq!(s.deleted, ["m0", "m1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_receive_failures_are_retried_and_a_missing_queue_stops_the_run() {
        let queue = FakeQueue::with_bodies(["work"]);
        queue.state().failures = vec![
            QueueError::Unavailable { detail: "timeout".into() },
            QueueError::Unavailable { detail: "timeout".into() },
        ];
        let (processor, _, rx) = setup(&queue);
        let summary = processor.run(idle(), rx).await;
        assert_eq!((summary.errors, summary.working, summary.stopped_by), (2, 1, Some(StopReason::Idle)));

        let queue = FakeQueue::with_bodies(["work"]);
        queue.state().failures = vec![QueueError::NotFound { queue: "orders".into() }];
        let (processor, _, rx) = setup(&queue);
        let summary = processor.run(idle(), rx).await;
        assert!(matches!(summary.stopped_by, Some(StopReason::QueueUnusable(ref e)) if e.contains("axia init")));
        assert_eq!(queue.state().ready.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_delete_is_counted_and_the_message_left_for_redelivery() {
        let queue = FakeQueue::with_bodies(["work"]);
        queue.state().fail_deletes = true;
        let (processor, _, rx) = setup(&queue);
        let summary = processor.run(idle(), rx).await;
        assert_eq!((summary.working, summary.errors), (1, 1));
        assert_eq!(queue.state().in_flight.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_heartbeat_beats_while_work_is_slow() {
        let queue = FakeQueue::with_bodies(["slow:35"]);
        let (processor, _, rx) = setup(&queue);
        let beats = Arc::new(Beats::default());
        let processor = processor.with_heartbeat(Arc::clone(&beats) as Arc<dyn Heartbeat>);
        let options = RunOptions { heartbeat_every: Duration::from_secs(10), ..idle() };
        processor.run(options, rx).await;
        let beats = beats.0.lock().unwrap();
        // At the start, at 10, 20 and 30 s, and at the end with the totals.
        assert_eq!(beats.len(), 5, "{beats:?}");
        assert_eq!(beats[0], RunSummary::default());
        assert_eq!(beats[4].stopped_by, Some(StopReason::Idle));
        assert_eq!(beats[4].working, 1);
    }
}
