//! [`RedisSystemStatus`] as the [`KillSwitchMirror`] of the kill-switch use cases: every stored
//! change is copied into `{prefix}system:status`, never over a newer version.

use async_trait::async_trait;
use axia_application::KillSwitchMirror;
use axia_domain::KillSwitchState;
use axia_domain::ports::RepositoryError;

use super::status::RedisSystemStatus;

#[async_trait]
impl KillSwitchMirror for RedisSystemStatus {
    async fn mirror(&self, state: &KillSwitchState) -> Result<(), RepositoryError> {
        let applied = self.mirror_kill_switch(state).await?;
        if !applied {
            // The port's contract: an older state than the mirrored one changes nothing.
            tracing::debug!(version = state.version, "kill switch mirror already holds this or a newer version");
        }
        Ok(())
    }
}
