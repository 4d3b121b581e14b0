//! The contract suite of [`OrderQueue`] (with the [`QueueAdmin`] inspection), run against every
//! queue adapter: the embedded SQLite queue (file and memory) and SQS on the local server.
//!
//! Each scenario takes a fresh, empty queue built with the visibility timeout and the
//! `max_receive_count` it names. SQS counts visibility in whole seconds and may answer a receive
//! with fewer messages than are ready, so the scenarios receive in loops with deadlines and
//! wait a margin past every timeout.
//!
//! What the suite pins down where SQS leaves room: a stale receipt (the message was redelivered,
//! deleted or dead-lettered since) is refused with [`QueueError::StaleReceipt`] by `extend`,
//! `delete` and `dead_letter`. The SQLite queue and the local server (ministack) both do so;
//! AWS itself may accept a `DeleteMessage` with an old receipt ("succeeds, but the message might
//! not be deleted").

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axia_adapters::queue::{MAX_MESSAGE_BYTES, QueueAdmin, QueueDepth};
use axia_domain::ports::{QueueError, QueueMessage};

/// Margin added to every timeout the scenarios wait out.
const MARGIN: Duration = Duration::from_millis(700);

/// Receives until `want` messages arrived or `within` passed (SQS may return fewer messages
/// than are ready per call).
///
/// # Panics
/// When a receive fails.
pub async fn receive_n(queue: &dyn QueueAdmin, want: usize, within: Duration) -> Vec<QueueMessage> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let wait = left.min(Duration::from_secs(2));
        got.extend(queue.receive(want - got.len(), wait).await.expect("receive"));
    }
    got
}

#[track_caller]
fn assert_stale<T: std::fmt::Debug>(r: &Result<T, QueueError>, what: &str) {
    assert!(matches!(r, Err(QueueError::StaleReceipt { .. })), "{what}: expected StaleReceipt, got {r:?}");
}

/// Asserts the depth, retrying for a few seconds (SQS counts are approximate and lag).
async fn assert_depth(queue: &dyn QueueAdmin, want: QueueDepth, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = queue.depth().await.expect("depth");
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: depth {got:?}, expected {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Send, receive (ids, bodies, receive count 1, distinct receipts), delete; a second delete of
/// the same receipt is stale; the queue ends empty.
///
/// # Panics
/// When the queue breaks the contract.
pub async fn send_receive_delete(queue: &dyn QueueAdmin) {
    assert_depth(queue, QueueDepth::default(), "a new queue").await;
    let bodies = ["{\"client_order_id\":\"a\"}", "prix 1,08 € — 🚀", "line one\nline two\ttab"];
    let mut sent = HashMap::new();
    for body in bodies {
        let id = queue.send(body).await.expect("send");
        assert!(!id.is_empty(), "send returns the message id");
        sent.insert(id, body.to_string());
    }
    assert_eq!(sent.len(), bodies.len(), "message ids are distinct");
    assert_depth(queue, QueueDepth { visible: 3, in_flight: 0, dead: 0 }, "three sent").await;

    let got = receive_n(queue, 3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3, "all three are received: {got:?}");
    let receipts: HashSet<_> = got.iter().map(|m| m.receipt.clone()).collect();
    assert_eq!(receipts.len(), 3, "every delivery has its own receipt");
    for m in &got {
        assert_eq!(sent.get(&m.id), Some(&m.body), "the body of {} comes back unchanged", m.id);
        assert_eq!(m.receive_count, 1, "first delivery of {}", m.id);
    }
    assert_depth(queue, QueueDepth { visible: 0, in_flight: 3, dead: 0 }, "three in flight").await;

    for m in &got {
        queue.delete(m).await.expect("delete with the current receipt");
    }
    assert_stale(&queue.delete(&got[0]).await, "deleting twice");
    assert!(queue.receive(10, Duration::from_millis(500)).await.expect("receive").is_empty(), "nothing left");
    assert_depth(queue, QueueDepth::default(), "all deleted").await;
}

/// An undeleted message is invisible for the visibility timeout, then comes back with receive
/// count 2 and a new receipt; the first receipt is then stale.
///
/// # Panics
/// When the queue breaks the contract.
pub async fn redelivery_after_visibility(queue: &dyn QueueAdmin, visibility: Duration) {
    let id = queue.send("redeliver me").await.expect("send");
    let first = receive_n(queue, 1, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 1, "received");
    let first = &first[0];
    assert_eq!((first.id.as_str(), first.receive_count), (id.as_str(), 1));
    let received_at = Instant::now();
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "invisible while in flight");

    let second = receive_n(queue, 1, visibility + Duration::from_secs(10)).await;
    assert_eq!(second.len(), 1, "the message comes back after the visibility timeout");
    let second = &second[0];
    assert!(
        received_at.elapsed() + MARGIN / 2 >= visibility,
        "not before the visibility timeout: back after {:?} of {visibility:?}",
        received_at.elapsed()
    );
    assert_eq!(second.id, id, "the same message");
    assert_eq!(second.receive_count, 2, "second delivery");
    assert_ne!(second.receipt, first.receipt, "a new receipt");

    assert_stale(&queue.extend(first, visibility).await, "extend with the first receipt");
    assert_stale(&queue.delete(first).await, "delete with the first receipt");
    assert_stale(&queue.dead_letter(first, "stale").await, "dead-letter with the first receipt");
    queue.delete(second).await.expect("delete with the current receipt");
    assert!(queue.dead_letters(10).await.expect("dead letters").is_empty(), "the stale dead-letter moved nothing");
}

/// `extend` keeps a message invisible past its original visibility timeout.
///
/// # Panics
/// When the queue breaks the contract.
pub async fn extend_keeps_invisible(queue: &dyn QueueAdmin, visibility: Duration) {
    queue.send("slow work").await.expect("send");
    let got = receive_n(queue, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "received");
    queue.extend(&got[0], visibility * 4).await.expect("extend");
    tokio::time::sleep(visibility + MARGIN).await;
    let again = queue.receive(10, Duration::from_millis(500)).await.expect("receive");
    assert!(again.is_empty(), "still invisible after the original timeout: {again:?}");
    queue.extend(&got[0], visibility).await.expect("extend again with the same receipt");
    queue.delete(&got[0]).await.expect("delete after extending");
    assert_depth(queue, QueueDepth::default(), "deleted").await;
}

/// `dead_letter` moves a message at once with its reason, original id and receive count;
/// reading the dead letters leaves them there; the receipt is stale afterwards.
///
/// # Panics
/// When the queue breaks the contract.
pub async fn dead_letter_with_reason(queue: &dyn QueueAdmin) {
    let body = "this is not JSON {";
    let id = queue.send(body).await.expect("send");
    queue.send("a good one").await.expect("send");
    let got = receive_n(queue, 2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "received both");
    let bad = got.iter().find(|m| m.id == id).expect("the bad message");
    let good = got.iter().find(|m| m.id != id).expect("the good message");
    let reason = "unparseable order request: expected value at line 1 column 1";
    queue.dead_letter(bad, reason).await.expect("dead-letter");
    queue.delete(good).await.expect("delete the good one");

    for read in 1..=2 {
        let dead = queue.dead_letters(10).await.expect("dead letters");
        assert_eq!(dead.len(), 1, "read {read}: one dead letter, still there: {dead:?}");
        let d = &dead[0];
        assert_eq!(d.body, body, "read {read}: the body");
        assert_eq!(d.reason.as_deref(), Some(reason), "read {read}: the reason");
        assert_eq!(d.original_id.as_deref(), Some(id.as_str()), "read {read}: the original id");
        assert_eq!(d.receive_count, Some(1), "read {read}: received once");
    }
    assert_stale(&queue.delete(bad).await, "delete after dead-lettering");
    assert!(queue.receive(10, Duration::from_millis(500)).await.expect("receive").is_empty(), "gone from the queue");
    assert_depth(queue, QueueDepth { visible: 0, in_flight: 0, dead: 1 }, "one dead").await;
}

/// A message received `max_receive_count` times without being deleted moves to the dead letters
/// by itself, and the queue goes on delivering the others.
///
/// # Panics
/// When the queue breaks the contract.
pub async fn redrive_after_max_receives(queue: &dyn QueueAdmin, visibility: Duration, max_receive_count: u32) {
    let poison = queue.send("poison").await.expect("send");
    for n in 1..=max_receive_count {
        let got = receive_n(queue, 1, visibility + Duration::from_secs(10)).await;
        assert_eq!(got.len(), 1, "delivery {n}");
        assert_eq!((got[0].id.as_str(), got[0].receive_count), (poison.as_str(), n), "delivery {n}");
    }
    let healthy = queue.send("healthy").await.expect("send");
    tokio::time::sleep(visibility + MARGIN).await;
    let got = receive_n(queue, 1, Duration::from_secs(3)).await;
    let ids: Vec<_> = got.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [healthy.as_str()], "the healthy message is delivered, not the poison one: {got:?}");
    queue.delete(&got[0]).await.expect("delete");
    let more = queue.receive(10, Duration::from_millis(500)).await.expect("receive");
    assert!(more.is_empty(), "the poison message is not delivered again: {more:?}");

    let dead = queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1, "the poison message is a dead letter: {dead:?}");
    assert_eq!(dead[0].body, "poison");
    assert_eq!(dead[0].original_id.as_deref(), Some(poison.as_str()));
    assert!(dead[0].reason.as_deref().is_some_and(|r| !r.is_empty()), "a reason is given: {dead:?}");
    assert_depth(queue, QueueDepth { visible: 0, in_flight: 0, dead: 1 }, "one dead").await;
}

/// Bodies over the limit, empty or with characters SQS refuses are [`QueueError::Invalid`] and
/// are not queued; a body of exactly the limit round-trips.
///
/// # Panics
/// When the queue breaks the contract.
pub async fn invalid_bodies(queue: &dyn QueueAdmin) {
    for (what, body) in [
        ("one byte over the limit", "x".repeat(MAX_MESSAGE_BYTES + 1)),
        ("empty", String::new()),
        ("a control character", "a\u{1}b".to_string()),
    ] {
        let r = queue.send(&body).await;
        assert!(matches!(r, Err(QueueError::Invalid { .. })), "{what}: expected Invalid, got {r:?}");
    }
    let largest = "y".repeat(MAX_MESSAGE_BYTES);
    queue.send(&largest).await.expect("a body of exactly the limit");
    let got = receive_n(queue, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "received");
    assert_eq!(got[0].body.len(), MAX_MESSAGE_BYTES, "unchanged");
    assert!(got[0].body == largest, "the body of the largest message comes back unchanged");
    queue.delete(&got[0]).await.expect("delete");
    assert_depth(queue, QueueDepth::default(), "nothing else was queued").await;
}

/// A receive on an empty queue waits about `wait`, then returns nothing; `max` 0 returns at once.
///
/// # Panics
/// When the queue breaks the contract.
pub async fn empty_receive_waits(queue: &dyn QueueAdmin) {
    let wait = Duration::from_secs(2);
    let started = Instant::now();
    let got = queue.receive(10, wait).await.expect("receive");
    let took = started.elapsed();
    assert!(got.is_empty(), "an empty queue: {got:?}");
    assert!(took + Duration::from_millis(300) >= wait, "waited {took:?} of {wait:?}");
    assert!(took < wait + Duration::from_secs(3), "returned soon after the wait: {took:?}");
    let started = Instant::now();
    assert!(queue.receive(0, wait).await.expect("receive 0").is_empty());
    assert!(started.elapsed() < Duration::from_secs(1), "max 0 does not wait");
}

/// Two receivers on one queue (for SQLite, two connections to one file) racing for `count`
/// messages never get the same message while it is invisible, and together get them all. The
/// queue's visibility timeout must be long enough for the race (30 s).
///
/// # Panics
/// When the queue breaks the contract.
pub async fn concurrent_receivers_disjoint(a: &dyn QueueAdmin, b: &dyn QueueAdmin, count: usize) {
    let mut sent = HashSet::new();
    for i in 0..count {
        sent.insert(a.send(&format!("{{\"n\":{i}}}")).await.expect("send"));
    }
    let (from_a, from_b) = futures::join!(drain(a), drain(b));
    let mut ids = HashSet::new();
    for m in from_a.iter().chain(&from_b) {
        assert!(ids.insert(m.id.clone()), "message {} was delivered twice while invisible", m.id);
        assert_eq!(m.receive_count, 1, "first delivery of {}", m.id);
    }
    assert_eq!(ids, sent, "together the receivers got every message (a: {}, b: {})", from_a.len(), from_b.len());
    for m in &from_a {
        a.delete(m).await.expect("delete");
    }
    for m in &from_b {
        b.delete(m).await.expect("delete");
    }
    assert_depth(a, QueueDepth::default(), "all deleted").await;
}

/// Receives until two receives in a row come back empty.
async fn drain(queue: &dyn QueueAdmin) -> Vec<QueueMessage> {
    let mut got = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let batch = queue.receive(10, Duration::from_millis(500)).await.expect("receive");
        if batch.is_empty() {
            empty += 1;
        } else {
            empty = 0;
            got.extend(batch);
        }
    }
    got
}
