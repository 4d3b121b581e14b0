//! axia use cases: the OHLCV collector, the data maintenance operations and the kill switch.
//! They talk to the outside world only through the ports of `axia-domain`, held as
//! `Arc<dyn Port>`.

pub mod collect;
pub mod data;
pub mod exits;
pub mod kill_switch;
pub mod orders;
pub mod provider;

pub use collect::{CollectConfig, CollectOhlcvData, CollectReport, CollectRequest, TaskOutcome, TaskResult};
pub use data::{DataError, DataService, SeriesSummary, TierRead};
pub use kill_switch::{
    EffectiveKillSwitch, KillSwitchChange, KillSwitchError, KillSwitchInit, KillSwitchMirror, KillSwitchService,
    MirrorOutcome,
};
pub use provider::{FetchMetadata, OhlcvDataProvider, ProviderConfig, ProviderError, ProviderTiers, UseCase};
