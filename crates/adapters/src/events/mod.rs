//! Publishers of system events ([`EventPublisher`]): Amazon SNS, and the log as the embedded
//! default.
//!
//! Both publish the event's JSON (`SystemEvent` serialised, its `type` field naming the kind);
//! SNS adds the kind as the message attribute `type` so subscribers can filter on it.
//!
//! [`EventPublisher`]: axia_domain::ports::EventPublisher

mod log;
mod sns;

pub use log::LogEventPublisher;
pub use sns::{SnsEventPublisher, SnsSettings};

/// The SNS message attribute holding the event kind (`SystemEvent::kind`).
pub const TYPE_ATTRIBUTE: &str = "type";
