//! [`RedisClient`]: the pooled, bounded connection every Redis repository of axia shares, to a
//! single node (or a non-clustered endpoint) or to a Redis Cluster.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use axia_domain::ports::RepositoryError;
use deadpool_redis::redis::aio::ConnectionLike;
use deadpool_redis::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    RedisResult, Value,
};
use deadpool_redis::{Manager, Runtime, cluster};

use super::config::{RedisConfig, redact_url};

pub(super) const BACKEND: &str = "redis";

enum Pools {
    Single(deadpool_redis::Pool),
    Cluster(cluster::Pool),
}

/// A pooled connection to either kind of deployment.
pub(super) enum Conn {
    Single(deadpool_redis::Connection),
    Cluster(cluster::Connection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// The shared connection pool of the Redis tier (see the [module documentation](super)).
///
/// Every call is bounded: waiting for a pooled connection (including opening one) by
/// `connect_timeout`, each command by `command_timeout`. Failures become [`RepositoryError`]s
/// that name the URL to check, without its password.
pub struct RedisClient {
    pools: Pools,
    config: RedisConfig,
    redacted_url: String,
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("url", &self.redacted_url)
            .field("cluster", &self.config.cluster)
            .field("key_prefix", &self.config.key_prefix)
            .field("pool_size", &self.config.pool_size)
            .finish_non_exhaustive()
    }
}

impl RedisClient {
    /// Builds the connection pool; no connection is made until the first call.
    ///
    /// # Errors
    /// [`RepositoryError::Misconfigured`] when the URL cannot be parsed, the prefix holds a
    /// brace, or the pool settings are invalid.
    pub fn new(config: RedisConfig) -> Result<Self, RepositoryError> {
        let redacted_url = redact_url(&config.url);
        let misconfigured = |detail: String| RepositoryError::Misconfigured { backend: BACKEND.into(), detail };
        if config.key_prefix.contains(['{', '}']) {
            return Err(misconfigured(format!(
                "key prefix {:?} must not hold braces (they would replace the hash tag of every key)",
                config.key_prefix
            )));
        }
        if config.pool_size == 0 {
            return Err(misconfigured("pool_size must be at least 1".into()));
        }
        let tls = config.url.starts_with("rediss://");
        if tls {
            // rustls needs one process-wide crypto provider; a second install is a no-op error.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        if config.tls_ca_file.is_some() && (!tls || config.cluster) {
            return Err(misconfigured("tls_ca_file applies to a single-node rediss:// url only".into()));
        }
        let pools = if config.cluster {
            let manager = cluster::Manager::new(vec![config.url.as_str()], false)
                .map_err(|e| misconfigured(format!("invalid redis url {redacted_url}: {e}")))?;
            let pool = cluster::Pool::builder(manager)
                .max_size(config.pool_size)
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(config.connect_timeout))
                .create_timeout(Some(config.connect_timeout))
                .recycle_timeout(Some(config.command_timeout))
                .build()
                .map_err(|e| misconfigured(format!("cannot build the pool for {redacted_url}: {e}")))?;
            Pools::Cluster(pool)
        } else {
            let connection = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(config.connect_timeout))
                .set_response_timeout(Some(config.command_timeout));
            let info = match &config.tls_ca_file {
                None => config.url.as_str().into_connection_info(),
                Some(path) => {
                    let pem = std::fs::read(path)
                        .map_err(|e| misconfigured(format!("cannot read tls_ca_file {}: {e}", path.display())))?;
                    let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
                    redis::Client::build_with_tls(config.url.as_str(), certs).map(|c| c.get_connection_info().clone())
                }
            }
            .map_err(|e| misconfigured(format!("invalid redis url {redacted_url}: {e}")))?;
            let manager = Manager::new_with_config(info, connection)
                .map_err(|e| misconfigured(format!("invalid redis url {redacted_url}: {e}")))?;
            let pool = deadpool_redis::Pool::builder(manager)
                .max_size(config.pool_size)
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(config.connect_timeout))
                .create_timeout(Some(config.connect_timeout))
                .recycle_timeout(Some(config.command_timeout))
                .build()
                .map_err(|e| misconfigured(format!("cannot build the pool for {redacted_url}: {e}")))?;
            Pools::Single(pool)
        };
        Ok(Self { pools, config, redacted_url })
    }

    /// The settings in use.
    #[must_use]
    pub const fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The URL without credentials, for messages.
    #[must_use]
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// `what` failed because Redis could not be reached or did not answer in time.
    pub(super) fn unavailable(&self, what: &str, detail: impl fmt::Display) -> RepositoryError {
        RepositoryError::unavailable(
            BACKEND,
            format!("{what}: {detail} (check that Redis is running and reachable at {})", self.redacted_url),
        )
    }

    /// Maps a Redis error of `what` on `key` to the port's error kinds.
    pub(super) fn map_error(&self, what: &str, key: &str, e: &RedisError) -> RepositoryError {
        match e.kind() {
            redis::ErrorKind::AuthenticationFailed | redis::ErrorKind::InvalidClientConfig => {
                RepositoryError::Misconfigured {
                    backend: BACKEND.into(),
                    detail: format!("{what}: {e} (check the credentials and settings of {})", self.redacted_url),
                }
            }
            redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse => {
                RepositoryError::corrupt(key, format!("{what}: {e}"))
            }
            redis::ErrorKind::Server(_) if e.code() == Some("WRONGTYPE") => {
                RepositoryError::corrupt(key, format!("{what}: the key holds another type: {e}"))
            }
            _ => self.unavailable(what, e),
        }
    }

    /// A pooled connection, within `connect_timeout`.
    pub(super) async fn connection(&self, what: &str) -> Result<Conn, RepositoryError> {
        // The pool has its own wait/create timeouts; this bound also covers anything else.
        let limit = self.config.connect_timeout + Duration::from_millis(50);
        let got = match &self.pools {
            Pools::Single(pool) => {
                tokio::time::timeout(limit, pool.get()).await.map(|r| r.map(Conn::Single).map_err(|e| e.to_string()))
            }
            Pools::Cluster(pool) => {
                tokio::time::timeout(limit, pool.get()).await.map(|r| r.map(Conn::Cluster).map_err(|e| e.to_string()))
            }
        };
        match got {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(self.unavailable(what, format!("no connection: {e}"))),
            Err(_) => Err(self.unavailable(what, format!("no connection within {limit:?}"))),
        }
    }

    /// Awaits `call` within `command_timeout`, mapping its error.
    pub(super) async fn bounded<T>(
        &self,
        what: &str,
        key: &str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, RepositoryError> {
        match tokio::time::timeout(self.config.command_timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.map_error(what, key, &e)),
            Err(_) => Err(self.unavailable(what, format!("no answer within {:?}", self.config.command_timeout))),
        }
    }

    /// `PING`: checks that Redis answers (and accepts the credentials). Used by
    /// `axia config check`.
    ///
    /// # Errors
    /// As the [type documentation](Self) says.
    pub async fn ping(&self) -> Result<(), RepositoryError> {
        let _: String = self.query("ping", "", &deadpool_redis::redis::cmd("PING")).await?;
        Ok(())
    }

    /// Runs one command (routed by its key in a cluster).
    ///
    /// # Errors
    /// As the [type documentation](Self) says.
    pub async fn query<T: FromRedisValue>(&self, what: &str, key: &str, cmd: &Cmd) -> Result<T, RepositoryError> {
        let mut conn = self.connection(what).await?;
        self.bounded(what, key, cmd.query_async(&mut conn)).await
    }

    /// Runs a pipeline whose commands all address keys of one hash slot.
    ///
    /// # Errors
    /// As the [type documentation](Self) says.
    pub async fn query_pipe<T: FromRedisValue>(
        &self,
        what: &str,
        key: &str,
        pipe: &Pipeline,
    ) -> Result<T, RepositoryError> {
        let mut conn = self.connection(what).await?;
        self.bounded(what, key, pipe.query_async(&mut conn)).await
    }

    /// Runs a prepared script invocation on keys of one hash slot (`key` names it in errors).
    pub(super) async fn invoke_prepared<T: FromRedisValue>(
        &self,
        what: &str,
        key: &str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, RepositoryError> {
        let mut conn = self.connection(what).await?;
        self.bounded(what, key, invocation.invoke_async(&mut conn)).await
    }

    /// Runs `cmd` on every primary node (the one node when not clustered) and returns each
    /// node's answer, e.g. for `INFO memory`, `DBSIZE` or a `SCAN` step.
    ///
    /// # Errors
    /// As the [type documentation](Self) says.
    pub async fn on_each_primary<T: FromRedisValue>(&self, what: &str, cmd: &Cmd) -> Result<Vec<T>, RepositoryError> {
        let mut conn = self.connection(what).await?;
        match &mut conn {
            Conn::Single(_) => Ok(vec![self.bounded(what, "", cmd.query_async(&mut conn)).await?]),
            Conn::Cluster(c) => {
                let mut out = Vec::new();
                for (host, port) in self.primaries(what, c).await? {
                    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
                    let value = self.bounded(what, "", c.route_command(cmd.clone(), routing)).await?;
                    out.push(T::from_redis_value(value).map_err(|e| self.map_error(what, "", &e.into()))?);
                }
                Ok(out)
            }
        }
    }

    /// `SCAN`s every primary for keys matching `pattern`.
    ///
    /// # Errors
    /// As the [type documentation](Self) says.
    pub async fn scan_keys(&self, what: &str, pattern: &str) -> Result<Vec<String>, RepositoryError> {
        let mut conn = self.connection(what).await?;
        let nodes = match &mut conn {
            Conn::Single(_) => vec![None],
            Conn::Cluster(c) => self.primaries(what, c).await?.into_iter().map(Some).collect(),
        };
        let mut out = Vec::new();
        for node in nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(1000);
                let (next, keys): (u64, Vec<String>) = match (&node, &mut conn) {
                    (Some((host, port)), Conn::Cluster(c)) => {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        });
                        let value = self.bounded(what, pattern, c.route_command(cmd, routing)).await?;
                        FromRedisValue::from_redis_value(value).map_err(|e| self.map_error(what, pattern, &e.into()))?
                    }
                    _ => self.bounded(what, pattern, cmd.query_async(&mut conn)).await?,
                };
                out.extend(keys);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The `(host, port)` of every live primary of the cluster, from `CLUSTER NODES` (supported
    /// by every Redis since 3.0), when together they serve every hash slot.
    ///
    /// A primary flagged `fail` is left out; when no replica took over its slots, no node can
    /// answer for their keys, and a per-node scan would silently miss them: that is
    /// `Unavailable`, not a partial answer.
    async fn primaries(
        &self,
        what: &str,
        conn: &mut cluster::Connection,
    ) -> Result<Vec<(String, u16)>, RepositoryError> {
        let text: String = self.bounded(what, "", redis::cmd("CLUSTER").arg("NODES").query_async(conn)).await?;
        let view = parse_cluster_nodes(&text);
        if view.primaries.is_empty() {
            return Err(self.unavailable(what, "CLUSTER NODES lists no live primary"));
        }
        if view.unserved > 0 {
            return Err(self.unavailable(
                what,
                format!(
                    "{} of {CLUSTER_SLOTS} hash slots have no live primary (a primary failed and no replica took over), \
                     so part of the keyspace cannot be read",
                    view.unserved
                ),
            ));
        }
        Ok(view.primaries)
    }
}

/// The hash slots of a Redis Cluster.
const CLUSTER_SLOTS: usize = 16_384;

/// What `CLUSTER NODES` says about the primaries.
#[derive(Debug, PartialEq, Eq)]
struct ClusterView {
    /// `(host, port)` of every primary not flagged `fail` (nor without an address), sorted.
    primaries: Vec<(String, u16)>,
    /// Slots that none of them serves.
    unserved: usize,
}

/// Parses `CLUSTER NODES` output: one node a line, `id ip:port@cport[,hostname] flags master
/// ping-sent pong-recv epoch link-state slot...`, where a slot is `n` or `from-to` (and
/// `[n->-id]` / `[n-<-id]` mark a migration, served by the owner meanwhile).
fn parse_cluster_nodes(text: &str) -> ClusterView {
    let mut served = vec![false; CLUSTER_SLOTS];
    let mut primaries: Vec<(String, u16)> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _id = fields.next()?;
            let addr = fields.next()?;
            let flags = fields.next()?;
            if !flags.split(',').any(|f| f == "master") || flags.split(',').any(|f| f == "fail" || f == "noaddr") {
                return None;
            }
            let hostport = addr.split(['@', ',']).next()?;
            let (host, port) = hostport.rsplit_once(':')?;
            let node = (host.trim_matches(['[', ']']).to_owned(), port.parse().ok()?);
            for slots in fields.skip(5).filter(|f| !f.starts_with('[')) {
                let (from, to) = slots.split_once('-').unwrap_or((slots, slots));
                if let (Ok(from), Ok(to)) = (from.parse::<usize>(), to.parse::<usize>()) {
                    served.iter_mut().take(to.saturating_add(1)).skip(from).for_each(|s| *s = true);
                }
            }
            Some(node)
        })
        .collect();
    primaries.sort();
    primaries.dedup();
    ClusterView { primaries, unserved: served.iter().filter(|s| !**s).count() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_cluster_nodes_output_names_the_primaries() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10921 10922 [10922->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383 [10922-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1:30009@31009 master,fail - 0 0 9 disconnected
";
        assert_eq!(
            parse_cluster_nodes(text),
            ClusterView {
                primaries: vec![("127.0.0.1".into(), 30001), ("127.0.0.1".into(), 30002), ("127.0.0.1".into(), 30003)],
                unserved: 0,
            }
        );
        assert_eq!(parse_cluster_nodes(""), ClusterView { primaries: vec![], unserved: CLUSTER_SLOTS });
    }

    #[test]
    fn redis_cluster_slots_of_a_failed_primary_are_unserved() {
        // 7102 died and no replica took over: its slots are still listed, under a failed node.
        let text = "\
bb9fe0d84f0a8ee827a0736a54b02333fabc92b9 127.0.0.1:7101@17101 myself,master - 0 1795513248000 1 connected 0-5460
54dc222a568782308f2a5b00128055399dfcc2bd 127.0.0.1:7102@17102 master,fail - 1795513249822 1795513248816 2 disconnected 5461-10922
3bbf055ca4790d19a2225f3d298cdb87e4f5b311 127.0.0.1:7103@17103 master - 0 1795513248816 3 connected 10923-16383
";
        let view = parse_cluster_nodes(text);
        assert_eq!(view.primaries, vec![("127.0.0.1".into(), 7101), ("127.0.0.1".into(), 7103)]);
        assert_eq!(view.unserved, 10922 - 5461 + 1);
    }

    #[test]
    fn redis_client_checks_settings_without_connecting() {
        let ok = RedisClient::new(RedisConfig::for_url("redis://u:pw@127.0.0.1:1/0")).expect("no connection is made");
        assert!(!format!("{ok:?}").contains("pw"));
        let cluster = RedisConfig { cluster: true, ..RedisConfig::for_url("redis://127.0.0.1:1") };
        assert!(RedisClient::new(cluster).is_ok());
        let braces = RedisConfig { key_prefix: "a{b}".into(), ..RedisConfig::default() };
        assert!(matches!(RedisClient::new(braces), Err(RepositoryError::Misconfigured { .. })));
        let zero = RedisConfig { pool_size: 0, ..RedisConfig::default() };
        assert!(matches!(RedisClient::new(zero), Err(RepositoryError::Misconfigured { .. })));
        match RedisClient::new(RedisConfig::for_url("http://:secret@nowhere")) {
            Err(RepositoryError::Misconfigured { detail, .. }) => assert!(!detail.contains("secret"), "{detail}"),
            other => panic!("expected Misconfigured, got {other:?}"),
        }
    }
}
