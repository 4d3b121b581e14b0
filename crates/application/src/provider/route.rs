//! The source table of SPEC §5: which tiers serve which use case, in which order.

use serde::{Deserialize, Serialize};

/// What a read is for; each use case has its own source order and L1 freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UseCase {
    /// Deciding trades: the freshest bars (the broker first).
    Trading,
    /// Drawing charts: fast, history stitched with the last 24 h.
    Chart,
    /// Research and backtests: the stored history.
    Analysis,
}

impl UseCase {
    /// Every use case.
    pub const ALL: [Self; 3] = [Self::Trading, Self::Chart, Self::Analysis];

    /// The lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Trading => "trading",
            Self::Chart => "chart",
            Self::Analysis => "analysis",
        }
    }
}

impl std::fmt::Display for UseCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One tier of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierKind {
    /// L1: the in-process memory tier.
    Memory,
    /// The broker's bridge (bars from the trading terminal).
    Broker,
    /// L2: Redis, the last 24 h of every series.
    Redis,
    /// L4: the Parquet history (local directory or S3).
    History,
    /// A market-data API (the last resort for bars nothing stores).
    Api,
}

impl TierKind {
    /// Every tier, in the order of the stats arrays.
    pub const ALL: [Self; 5] = [Self::Memory, Self::Broker, Self::Redis, Self::History, Self::Api];

    /// The lower-case name used in metadata, stats and metrics.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Broker => "broker",
            Self::Redis => "redis",
            Self::History => "history",
            Self::Api => "api",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// Bar stores the provider writes back into (sources are only read).
    #[must_use]
    pub const fn is_store(self) -> bool {
        matches!(self, Self::Memory | Self::Redis | Self::History)
    }
}

impl std::fmt::Display for TierKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The tiers asked after L1 for a request of `use_case`; `recent` when it starts inside the last
/// 24 h (SPEC §5):
///
/// | use case | ≤ 24 h | > 24 h |
/// | --- | --- | --- |
/// | trading | broker → Redis → API | broker → API |
/// | chart | Redis → broker → API | history (+ Redis for the last 24 h) → API |
/// | analysis | Redis → history | history → API |
///
/// Redis is only ever asked for the part of a request inside its window, so "history + Redis
/// for the last 24 h" is Redis for that part first, then the history tier for everything still
/// missing. Tiers the configuration lacks are skipped.
#[must_use]
pub const fn route(use_case: UseCase, recent: bool) -> &'static [TierKind] {
    use TierKind::{Api, Broker, History, Redis};
    match (use_case, recent) {
        (UseCase::Trading, true) => &[Broker, Redis, Api],
        (UseCase::Trading, false) => &[Broker, Api],
        (UseCase::Chart, true) => &[Redis, Broker, Api],
        (UseCase::Chart, false) => &[Redis, History, Api],
        (UseCase::Analysis, true) => &[Redis, History],
        (UseCase::Analysis, false) => &[History, Api],
    }
}

/// The store tiers tried, in this order, when a route has run out of configured tiers and part
/// of the request is still missing (e.g. trading over 30 days on a machine without a broker
/// bridge or a market-data API): the stored bars are better than none. Recorded in the metadata
/// as a fallback like any other.
pub const LAST_RESORT: [TierKind; 2] = [TierKind::Redis, TierKind::History];

/// Per-use-case values (L1 freshness, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerUseCase<T> {
    /// For [`UseCase::Trading`].
    pub trading: T,
    /// For [`UseCase::Chart`].
    pub chart: T,
    /// For [`UseCase::Analysis`].
    pub analysis: T,
}

impl<T: Copy> PerUseCase<T> {
    /// The value for `use_case`.
    #[must_use]
    pub const fn get(&self, use_case: UseCase) -> T {
        match use_case {
            UseCase::Trading => self.trading,
            UseCase::Chart => self.chart,
            UseCase::Analysis => self.analysis,
        }
    }
}
