//! The order queue contract suite against the SQLite queue (a file, and memory) and SQS on the
//! local server (a queue pair of its own per test), plus SQS setup and missing-queue errors, and
//! the SNS event publisher on the local server (read back through a subscribed SQS queue).

use std::time::Duration;

use axia_adapters::events::{SnsEventPublisher, SnsSettings};
use axia_adapters::queue::{QueueAdmin, QueueSetup, SqliteOrderQueue, SqliteQueueSettings, SqsOrderQueue, SqsSettings};
use axia_domain::SystemEvent;
use axia_domain::ports::{EventPublisher, OrderQueue, PublishError, QueueError};
use axia_tests::queue_contract;
use axia_tests::s3_support::aws_endpoint;
use chrono::{TimeZone, Utc};
use rstest::rstest;
use tempfile::TempDir;

/// The adapter under test.
#[derive(Debug, Clone, Copy)]
enum Kind {
    File,
    Memory,
    Sqs,
}

/// Two handles on one fresh queue (for a file, two connections, as two processes would have).
struct Under {
    a: Box<dyn QueueAdmin>,
    b: Box<dyn QueueAdmin>,
    _dir: Option<TempDir>,
}

/// SQS settings of a fresh `axia-test-<uuid>` queue pair on the local server.
fn sqs_settings(visibility: Duration, max_receive_count: u32) -> SqsSettings {
    SqsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(aws_endpoint()),
        visibility_timeout: visibility,
        max_receive_count,
        ..SqsSettings::new(format!("axia-test-{}", uuid::Uuid::new_v4().simple()))
    }
}

async fn open(kind: Kind, visibility: Duration, max_receive_count: u32) -> Under {
    let settings = SqliteQueueSettings {
        visibility_timeout: visibility,
        max_receive_count,
        poll_interval: Duration::from_millis(50),
    };
    match kind {
        Kind::File => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("queue.db");
            let a = SqliteOrderQueue::open(&path).await.expect("open the queue file").with_settings(settings);
            let b = SqliteOrderQueue::open(&path).await.expect("open it again").with_settings(settings);
            Under { a: Box::new(a), b: Box::new(b), _dir: Some(dir) }
        }
        Kind::Memory => {
            let a = SqliteOrderQueue::open_in_memory().await.expect("open in memory").with_settings(settings);
            Under { b: Box::new(a.clone()), a: Box::new(a), _dir: None }
        }
        Kind::Sqs => {
            let settings = sqs_settings(visibility, max_receive_count);
            let a = SqsOrderQueue::new(settings.clone()).await.expect("SQS client");
            let setup = a.ensure_queues().await.expect("create the queues");
            assert_eq!(setup, QueueSetup { created_queue: true, created_dlq: true }, "a fresh pair is created");
            let b = SqsOrderQueue::new(settings).await.expect("second SQS client");
            Under { a: Box::new(a), b: Box::new(b), _dir: None }
        }
    }
}

const VISIBILITY: Duration = Duration::from_secs(2);

#[rstest]
#[tokio::test]
async fn queue_send_receive_delete(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let q = open(kind, VISIBILITY, 5).await;
    queue_contract::send_receive_delete(q.a.as_ref()).await;
}

#[rstest]
#[tokio::test]
async fn queue_redelivery_after_visibility(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let q = open(kind, VISIBILITY, 5).await;
    queue_contract::redelivery_after_visibility(q.a.as_ref(), VISIBILITY).await;
}

#[rstest]
#[tokio::test]
async fn queue_extend_keeps_invisible(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let q = open(kind, VISIBILITY, 5).await;
    queue_contract::extend_keeps_invisible(q.a.as_ref(), VISIBILITY).await;
}

#[rstest]
#[tokio::test]
async fn queue_dead_letter_with_reason(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let q = open(kind, VISIBILITY, 5).await;
    queue_contract::dead_letter_with_reason(q.a.as_ref()).await;
}

#[rstest]
#[tokio::test]
async fn queue_redrive_after_max_receives(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let visibility = Duration::from_secs(1);
    let q = open(kind, visibility, 2).await;
    queue_contract::redrive_after_max_receives(q.a.as_ref(), visibility, 2).await;
}

#[rstest]
#[tokio::test]
async fn queue_invalid_bodies(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let q = open(kind, VISIBILITY, 5).await;
    queue_contract::invalid_bodies(q.a.as_ref()).await;
}

#[rstest]
#[tokio::test]
async fn queue_empty_receive_waits(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let q = open(kind, VISIBILITY, 5).await;
    queue_contract::empty_receive_waits(q.a.as_ref()).await;
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_concurrent_receivers_disjoint(#[values(Kind::File, Kind::Memory, Kind::Sqs)] kind: Kind) {
    let q = open(kind, Duration::from_secs(30), 5).await;
    queue_contract::concurrent_receivers_disjoint(q.a.as_ref(), q.b.as_ref(), 40).await;
}

#[tokio::test]
async fn sqs_ensure_queues_is_idempotent() {
    let settings = sqs_settings(VISIBILITY, 3);
    let q = SqsOrderQueue::new(settings.clone()).await.expect("SQS client");
    assert_eq!(q.ensure_queues().await.expect("first"), QueueSetup { created_queue: true, created_dlq: true });
    assert_eq!(q.ensure_queues().await.expect("second"), QueueSetup { created_queue: false, created_dlq: false });
    // Another process, with other settings: the existing queue is reconfigured, not recreated.
    let other = SqsOrderQueue::new(SqsSettings { max_receive_count: 4, ..settings }).await.expect("SQS client");
    assert_eq!(other.ensure_queues().await.expect("third"), QueueSetup { created_queue: false, created_dlq: false });
    let arn = q.queue_arn().await.expect("queue ARN");
    assert!(arn.starts_with("arn:aws:sqs:") && arn.ends_with(&q.settings().queue_name), "{arn}");
}

#[tokio::test]
async fn sqs_missing_queue_is_not_found_naming_init() {
    let q = SqsOrderQueue::new(sqs_settings(VISIBILITY, 5)).await.expect("SQS client");
    let name = q.settings().queue_name.clone();
    for (what, r) in [
        ("send", q.send("x").await.map(|_| ())),
        ("receive", q.receive(1, Duration::ZERO).await.map(|_| ())),
        ("depth", q.depth().await.map(|_| ())),
    ] {
        match r {
            Err(e @ QueueError::NotFound { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&name) && text.contains("axia init"), "{what}: {text}");
                assert!(!e.is_retryable(), "{what}: a missing queue is not retryable");
            }
            other => panic!("{what}: expected NotFound, got {other:?}"),
        }
    }
    // `init` creates it, and the same handle then works.
    q.ensure_queues().await.expect("create the queues");
    q.send("after init").await.expect("send after init");
}

#[tokio::test]
async fn sqs_unreachable_server_is_unavailable() {
    let settings = SqsSettings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        max_attempts: 1,
        connect_timeout: Duration::from_millis(500),
        ..sqs_settings(VISIBILITY, 5)
    };
    let q = SqsOrderQueue::new(settings).await.expect("SQS client");
    let r = q.send("x").await;
    assert!(matches!(&r, Err(e @ QueueError::Unavailable { .. }) if e.is_retryable()), "{r:?}");
}

fn sns_settings(topic: &str) -> SnsSettings {
    SnsSettings { region: Some("us-east-1".into()), endpoint_url: Some(aws_endpoint()), ..SnsSettings::new(topic) }
}

fn new_topic_name() -> String {
    format!("axia-test-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn sns_ensure_topic_is_idempotent_and_publishes() {
    let publisher = SnsEventPublisher::new(sns_settings(&new_topic_name())).await.expect("SNS client");
    assert!(publisher.ensure_topic().await.expect("create"), "created the first time");
    assert!(!publisher.ensure_topic().await.expect("again"), "not created the second time");
    let event = SystemEvent::Heartbeat { component: "it".into(), at: Utc::now() };
    publisher.publish(&event).await.expect("publish");
}

#[tokio::test]
async fn sns_events_reach_a_subscribed_queue_with_their_type() {
    let topic = new_topic_name();
    let publisher = SnsEventPublisher::new(sns_settings(&topic)).await.expect("SNS client");
    publisher.ensure_topic().await.expect("create the topic");
    let queue = SqsOrderQueue::new(sqs_settings(Duration::from_secs(30), 5)).await.expect("SQS client");
    queue.ensure_queues().await.expect("create the queues");
    publisher.subscribe_sqs(&queue.queue_arn().await.expect("queue ARN"), false).await.expect("subscribe");

    // A publisher built later finds the topic by name (its ARN read from the server).
    let publisher = SnsEventPublisher::new(sns_settings(&topic)).await.expect("SNS client");
    let event = SystemEvent::OrderRejected {
        client_order_id: "it-1".into(),
        reason: "kill switch halted".into(),
        at: Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap(),
    };
    publisher.publish(&event).await.expect("publish");

    let got = queue_contract::receive_n(&queue, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "the event arrives in the subscribed queue");
    let envelope: serde_json::Value = serde_json::from_str(&got[0].body).expect("an SNS envelope");
    let message = envelope["Message"].as_str().expect("the envelope's Message");
    let back: SystemEvent = serde_json::from_str(message).expect("the event JSON");
    assert_eq!(back, event, "the event round-trips");
    assert_eq!(envelope["MessageAttributes"]["type"]["Value"], "order_rejected", "the type attribute: {envelope}");
}

#[tokio::test]
async fn sns_missing_topic_is_misconfigured_naming_init() {
    let topic = new_topic_name();
    let event = SystemEvent::Heartbeat { component: "it".into(), at: Utc::now() };
    let by_name = SnsEventPublisher::new(sns_settings(&topic)).await.expect("SNS client");
    // With a configured ARN the lookup is skipped: the server's NotFound answer is mapped.
    let by_arn = SnsEventPublisher::new(SnsSettings {
        topic_arn: Some(format!("arn:aws:sns:us-east-1:000000000000:{topic}")),
        ..sns_settings(&topic)
    })
    .await
    .expect("SNS client");
    for (what, publisher) in [("by name", &by_name), ("by ARN", &by_arn)] {
        match publisher.publish(&event).await {
            Err(e @ PublishError::Misconfigured { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&topic) && text.contains("axia init"), "{what}: {text}");
            }
            other => panic!("{what}: expected Misconfigured, got {other:?}"),
        }
    }
}
