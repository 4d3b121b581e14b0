//! [`RedisSystemStatus`]: the `system:status` hash, the kill-switch mirror and the heartbeats
//! every process can read without touching the state store.

use std::collections::BTreeMap;
use std::sync::Arc;

use axia_domain::ports::RepositoryError;
use axia_domain::{KillSwitchState, TradingState};
use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_redis::redis::{self, Script};

use super::client::RedisClient;

/// Fields of the kill-switch mirror, in the order [`MIRROR_LUA`] takes them.
const STATE: &str = "state";
const REASON: &str = "reason";
const CHANGED_BY: &str = "changed_by";
const VERSION: &str = "version";
const UPDATED_AT: &str = "updated_at";
const KILL_SWITCH_FIELDS: [&str; 5] = [STATE, REASON, CHANGED_BY, VERSION, UPDATED_AT];

/// Field prefix of a component's heartbeat: `heartbeat:{component}`.
const HEARTBEAT: &str = "heartbeat:";

/// KEYS[1] the status hash; ARGV the values of `state`, `reason`, `changed_by`, `version`,
/// `updated_at`. Writes them only when the stored version is absent or lower. Returns 1
/// applied, 0 not applied (stored version is as new or newer), -1 stored version unreadable.
const MIRROR_LUA: &str = r"
local cur = redis.call('HGET', KEYS[1], 'version')
if cur then
  local n = tonumber(cur)
  if not n then return -1 end
  if n >= tonumber(ARGV[4]) then return 0 end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'reason', ARGV[2], 'changed_by', ARGV[3],
  'version', ARGV[4], 'updated_at', ARGV[5])
return 1
";

/// What `system:status` holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemStatus {
    /// The mirrored kill-switch state (its `changed_at` is the stored `updated_at`); `None`
    /// when never mirrored. A mirror, not the authority: the kill switch repository is.
    pub kill_switch: Option<KillSwitchState>,
    /// The last heartbeat of each component, by component name.
    pub heartbeats: BTreeMap<String, DateTime<Utc>>,
}

/// The `{prefix}system:status` hash (see the [module documentation](super)).
#[derive(Debug)]
pub struct RedisSystemStatus {
    client: Arc<RedisClient>,
    mirror_script: Script,
}

impl RedisSystemStatus {
    /// The status hash over a shared client.
    #[must_use]
    pub fn with_client(client: Arc<RedisClient>) -> Self {
        Self { client, mirror_script: Script::new(MIRROR_LUA) }
    }

    /// `{prefix}system:status`.
    #[must_use]
    pub fn redis_key(&self) -> String {
        status_key(&self.client.config().key_prefix)
    }

    /// Mirrors `state` unless the stored mirror is as new or newer (by version), so a late
    /// writer never rolls the mirror back. Returns whether it was written.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when Redis cannot be reached, [`RepositoryError::Corrupt`]
    /// naming the `version` field when the stored version is not a number.
    pub async fn mirror_kill_switch(&self, state: &KillSwitchState) -> Result<bool, RepositoryError> {
        let key = self.redis_key();
        let mut invocation = self.mirror_script.prepare_invoke();
        invocation.key(&key);
        for value in kill_switch_values(state) {
            invocation.arg(value);
        }
        let applied: i64 = self.client.invoke_prepared("mirror_kill_switch", &key, &invocation).await?;
        match applied {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(field_corrupt(&key, VERSION, "the stored version is not a number")),
        }
    }

    /// Records that `component` was alive at `at` (field `heartbeat:{component}`).
    ///
    /// # Errors
    /// [`RepositoryError::Invalid`] when `component` is blank, [`RepositoryError::Unavailable`]
    /// when Redis cannot be reached.
    pub async fn heartbeat(&self, component: &str, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        if component.trim().is_empty() {
            return Err(RepositoryError::Invalid { detail: "a heartbeat needs a component name".into() });
        }
        let key = self.redis_key();
        let mut cmd = redis::cmd("HSET");
        cmd.arg(&key).arg(format!("{HEARTBEAT}{component}")).arg(format_time(at));
        self.client.query::<()>("heartbeat", &key, &cmd).await
    }

    /// The stored status; `None` when the hash does not exist.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when Redis cannot be reached, [`RepositoryError::Corrupt`]
    /// naming the field that cannot be read (or is missing from a partial kill-switch mirror).
    pub async fn read(&self) -> Result<Option<SystemStatus>, RepositoryError> {
        let key = self.redis_key();
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(&key);
        let fields: Vec<(String, String)> = self.client.query("read_status", &key, &cmd).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode_status(&key, fields.into_iter().collect()).map(Some)
    }
}

/// `{prefix}system:status`.
fn status_key(prefix: &str) -> String {
    format!("{prefix}system:status")
}

fn field_corrupt(key: &str, field: &str, detail: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::corrupt(format!("{key} field {field:?}"), detail)
}

/// RFC 3339 in UTC (`Z`), with as many fractional digits as needed to round-trip.
fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_time(key: &str, field: &str, text: &str) -> Result<DateTime<Utc>, RepositoryError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| field_corrupt(key, field, format!("{text:?} is not an RFC 3339 time: {e}")))
}

/// The values of [`KILL_SWITCH_FIELDS`] for `state`.
fn kill_switch_values(state: &KillSwitchState) -> [String; 5] {
    [
        state.state.as_str().to_owned(),
        state.reason.clone(),
        state.changed_by.clone(),
        state.version.to_string(),
        format_time(state.changed_at),
    ]
}

/// Reads the hash's fields; unknown fields are ignored (a newer writer may add some).
fn decode_status(key: &str, mut fields: BTreeMap<String, String>) -> Result<SystemStatus, RepositoryError> {
    let present = KILL_SWITCH_FIELDS.iter().filter(|f| fields.contains_key(**f)).count();
    let kill_switch = if present == 0 {
        None
    } else {
        let mut take = |field: &str| {
            fields.remove(field).ok_or_else(|| field_corrupt(key, field, "missing from the kill-switch mirror"))
        };
        let (state, reason, changed_by, version, updated_at) =
            (take(STATE)?, take(REASON)?, take(CHANGED_BY)?, take(VERSION)?, take(UPDATED_AT)?);
        Some(KillSwitchState {
            state: state
                .parse::<TradingState>()
                .ok()
                .filter(|s| s.as_str() == state)
                .ok_or_else(|| field_corrupt(key, STATE, format!("{state:?} is not a trading state")))?,
            reason,
            changed_by,
            changed_at: parse_time(key, UPDATED_AT, &updated_at)?,
            version: version
                .parse()
                .map_err(|e| field_corrupt(key, VERSION, format!("{version:?} is not a version: {e}")))?,
        })
    };
    let heartbeats = fields
        .iter()
        .filter_map(|(field, value)| field.strip_prefix(HEARTBEAT).map(|component| (field, component, value)))
        .map(|(field, component, value)| Ok((component.to_owned(), parse_time(key, field, value)?)))
        .collect::<Result<_, RepositoryError>>()?;
    Ok(SystemStatus { kill_switch, heartbeats })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    const KEY: &str = "axia:system:status";

    fn halted() -> KillSwitchState {
        KillSwitchState {
            state: TradingState::Halted,
            reason: "drawdown: 5% in a day".into(),
            changed_by: "alice@ops".into(),
            changed_at: Utc.with_ymd_and_hms(2025, 9, 1, 12, 30, 0).unwrap(),
            version: 42,
        }
    }

    fn stored(state: &KillSwitchState) -> BTreeMap<String, String> {
        KILL_SWITCH_FIELDS.iter().map(|f| (*f).to_owned()).zip(kill_switch_values(state)).collect()
    }

    #[test]
    fn redis_status_key_and_time_format() {
        assert_eq!(status_key("axia:"), KEY);
        let t = Utc.with_ymd_and_hms(2025, 9, 1, 12, 30, 0).unwrap();
        assert_eq!(format_time(t), "2025-09-01T12:30:00Z");
        let precise = Utc.timestamp_opt(1_756_700_000, 123_000_000).unwrap();
        assert_eq!(format_time(precise), "2025-09-01T04:13:20.123Z");
        assert_eq!(parse_time(KEY, "f", &format_time(precise)).unwrap(), precise);
        assert_eq!(parse_time(KEY, "f", "2025-09-01T14:30:00+02:00").unwrap(), t);
    }

    #[test]
    fn redis_status_round_trips_the_mirror_and_heartbeats() {
        let state = halted();
        let mut fields = stored(&state);
        assert_eq!(fields["updated_at"], "2025-09-01T12:30:00Z");
        assert_eq!(fields["state"], "halted");
        fields.insert("heartbeat:orders".into(), "2025-09-01T12:31:00Z".into());
        fields.insert("future_field".into(), "ignored".into());
        let status = decode_status(KEY, fields).unwrap();
        assert_eq!(status.kill_switch, Some(state));
        assert_eq!(
            status.heartbeats,
            BTreeMap::from([("orders".to_owned(), Utc.with_ymd_and_hms(2025, 9, 1, 12, 31, 0).unwrap())])
        );
        let only_heartbeats = BTreeMap::from([("heartbeat:collector".to_owned(), "2025-09-01T00:00:00Z".to_owned())]);
        assert_eq!(decode_status(KEY, only_heartbeats).unwrap().kill_switch, None);
    }

    #[rstest]
    #[case::bad_state("state", Some("paused"))]
    #[case::not_canonical_state("state", Some("HALTED"))]
    #[case::bad_version("version", Some("-1"))]
    #[case::bad_time("updated_at", Some("yesterday"))]
    #[case::missing_reason("reason", None)]
    #[case::bad_heartbeat("heartbeat:orders", Some("soon"))]
    fn redis_malformed_status_fields_are_corrupt_naming_the_field(#[case] field: &str, #[case] value: Option<&str>) {
        let mut fields = stored(&halted());
        match value {
            Some(v) => fields.insert(field.to_owned(), v.to_owned()),
            None => fields.remove(field),
        };
        match decode_status(KEY, fields) {
            Err(RepositoryError::Corrupt { what, .. }) => assert_eq!(what, format!("{KEY} field {field:?}")),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    proptest! {
        #[test]
        fn redis_kill_switch_mirror_round_trips(
            state in prop_oneof![Just(TradingState::Active), Just(TradingState::ReduceOnly), Just(TradingState::Halted)],
            reason in ".*",
            changed_by in ".*",
            version in any::<u64>(),
            secs in 0i64..4_102_444_800,
            nanos in 0u32..1_000_000_000,
        ) {
            let s = KillSwitchState {
                state, reason, changed_by, version, changed_at: Utc.timestamp_opt(secs, nanos).unwrap(),
            };
            prop_assert_eq!(decode_status(KEY, stored(&s)).unwrap().kill_switch, Some(s));
        }
    }
}
