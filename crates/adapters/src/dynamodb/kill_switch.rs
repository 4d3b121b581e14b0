//! [`KillSwitchRepository`] on DynamoDB: the state at `GLOBALCONFIG` / `SETTING#KILL_SWITCH`
//! (AP3), one audit item per change at `GLOBALCONFIG` / `AUDIT#KILL_SWITCH#<version>`, both
//! written in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use axia_domain::ports::{KillSwitchRepository, RepositoryError};
use axia_domain::{KillSwitchAudit, KillSwitchState};

use super::DynamoStateStore;
use super::error::Op;
use super::items::{Condition, Expr, Item, decode, encode, get_u64, key, n, s};
use super::keys::{
    AUDIT_PREFIX, CREATED, DOC, GLOBALCONFIG, ITEM_TYPE, KILL_SWITCH_SK, PK, SK, UPDATED, VERSION, audit_sk, ts,
};
use super::writes::{Change, Write};
use crate::state_rules::check_kill_switch_version;

const WHAT: &str = "kill switch";

/// Decodes the state item, checking that the document carries the item's version.
fn decode_state(item: &Item) -> Result<KillSwitchState, RepositoryError> {
    let version = get_u64(item, VERSION, WHAT)?;
    let state: KillSwitchState = decode(item, WHAT)?;
    if state.version != version {
        return Err(RepositoryError::corrupt(
            WHAT,
            format!("the document has version {}, the item {version}", state.version),
        ));
    }
    Ok(state)
}

/// The state write: an update, so that `created_utc` survives every change.
fn state_write(next: &KillSwitchState, expected_version: u64) -> Result<Write, RepositoryError> {
    let update = Expr {
        text: "SET #doc = :doc, #version = :version, #type = :type, #updated = :now, \
               #created = if_not_exists(#created, :now)"
            .into(),
        names: HashMap::from([
            ("#doc".into(), DOC.into()),
            ("#version".into(), VERSION.into()),
            ("#type".into(), ITEM_TYPE.into()),
            ("#updated".into(), UPDATED.into()),
            ("#created".into(), CREATED.into()),
        ]),
        values: HashMap::from([
            (":doc".into(), encode(WHAT, next)?),
            (":version".into(), n(next.version)),
            (":type".into(), s("GlobalSetting")),
            (":now".into(), s(ts(next.changed_at))),
        ]),
    };
    let condition = if expected_version == 0 { Condition::Absent } else { Condition::Version(expected_version) };
    Ok(Write {
        what: WHAT.into(),
        change: Change::Update { key: key(GLOBALCONFIG.into(), KILL_SWITCH_SK), update },
        condition,
    })
}

fn audit_write(audit: &KillSwitchAudit) -> Result<Write, RepositoryError> {
    let what = format!("kill switch audit {}", audit.version);
    let mut item = key(GLOBALCONFIG.into(), audit_sk(audit.version));
    item.extend([
        (ITEM_TYPE.to_string(), s("KillSwitchAudit")),
        (VERSION.to_string(), n(audit.version)),
        (CREATED.to_string(), s(ts(audit.changed_at))),
        (UPDATED.to_string(), s(ts(audit.changed_at))),
        (DOC.to_string(), encode(&what, audit)?),
    ]);
    Ok(Write::put(what, item, Condition::Absent))
}

#[async_trait]
impl KillSwitchRepository for DynamoStateStore {
    async fn get(&self) -> Result<KillSwitchState, RepositoryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(GLOBALCONFIG.into(), KILL_SWITCH_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.map_err(&e, Op::GetItem, WHAT))?;
        match out.item {
            Some(item) => decode_state(&item),
            None => Err(RepositoryError::NotFound { what: WHAT.into() }),
        }
    }

    async fn set(
        &self,
        next: &KillSwitchState,
        audit: &KillSwitchAudit,
        expected_version: u64,
    ) -> Result<(), RepositoryError> {
        check_kill_switch_version(next, expected_version)?;
        if audit.version != next.version {
            return Err(RepositoryError::Invalid {
                detail: format!("kill switch audit version {} is not the state's {}", audit.version, next.version),
            });
        }
        self.write(&[state_write(next, expected_version)?, audit_write(audit)?]).await
    }

    async fn history(&self, limit: usize) -> Result<Vec<KillSwitchAudit>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = self
            .query(None)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(GLOBALCONFIG))
            .expression_attribute_values(":prefix", s(AUDIT_PREFIX))
            .scan_index_forward(false);
        let items = self.query_all(query, Some(limit), "kill switch audit").await?;
        items
            .iter()
            .map(|item| {
                let what = format!("kill switch audit {}", get_u64(item, VERSION, "kill switch audit")?);
                decode(item, &what)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::TradingState;
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn a_state_whose_document_disagrees_with_its_item_is_corrupt() {
        let t0 = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        let state = KillSwitchState::initial("ops", t0);
        let mut item: Item =
            HashMap::from([(VERSION.to_string(), n(1)), (DOC.to_string(), encode(WHAT, &state).unwrap())]);
        assert_eq!(decode_state(&item).unwrap(), state);
        item.insert(VERSION.into(), n(7));
        assert!(matches!(decode_state(&item), Err(RepositoryError::Corrupt { .. })));
        item.insert(DOC.into(), s(r#"{"state":"maybe"}"#));
        assert!(matches!(decode_state(&item), Err(RepositoryError::Corrupt { .. })));
        let (_, audit) = state.change(TradingState::Halted, "x", "bob", t0).unwrap();
        let w = audit_write(&audit).unwrap();
        assert_eq!(w.condition, Condition::Absent);
        assert!(matches!(&w.change, Change::Put(i) if i[SK] == s("AUDIT#KILL_SWITCH#00000000000000000002")));
    }
}
