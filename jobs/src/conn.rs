//! One Redis connection type for single-node Redis and Redis Cluster: [`RedisConn`] speaks to
//! whichever [`RedisSettings`] names (a cluster when `cluster_urls` is non-empty), so the
//! queue and the service's own keys (OAuth state, limiter, locks) run unchanged on both.
//!
//! In a cluster every command and script is routed by its first key; the callers keep every
//! multi-key operation within one hash tag (`{…}`), so each touches one slot. SCAN has no key:
//! [`RedisConn::scan_match`] walks every master.

use std::time::Duration;

use redis::{
    aio::{ConnectionLike, ConnectionManager},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    cluster_routing::{RoutingInfo, SingleNodeRoutingInfo},
    Cmd, Pipeline, RedisFuture, Value,
};

use crate::config::RedisSettings;

/// A cluster's slot ranges (first slot, last slot, index of its master) and its masters
/// (`host`, `port`), from one `CLUSTER SLOTS`.
type SlotMap = (Vec<(u16, u16, usize)>, Vec<(String, u16)>);

/// A connection to single-node Redis (reconnecting manager) or to a Redis Cluster (slot-aware,
/// follows failovers and MOVED/ASK redirections). Cheap to clone; clones share the connection.
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "RedisConn::Single",
            Self::Cluster(_) => "RedisConn::Cluster",
        })
    }
}

impl ConnectionLike for RedisConn {
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

/// How to open connections: a single-node client or a cluster client.
#[derive(Clone)]
pub(crate) enum Connector {
    Single(Box<redis::Client>),
    Cluster(Vec<String>),
}

impl Connector {
    pub(crate) fn new(redis: &RedisSettings) -> Result<Self, redis::RedisError> {
        if !redis.cluster_urls.is_empty() {
            return Ok(Self::Cluster(redis.cluster_urls.clone()));
        }
        Ok(Self::Single(Box::new(
            match (&redis.trusted_pem, redis.url.starts_with("rediss://")) {
                (Some(pem), true) => redis::Client::build_with_tls(
                    redis.url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem.clone()),
                    },
                )?,
                _ => redis::Client::open(redis.url.as_str())?,
            },
        )))
    }

    /// A new connection whose commands may take up to `response_timeout`.
    pub(crate) async fn connect(
        &self,
        redis: &RedisSettings,
        response_timeout: Duration,
    ) -> Result<RedisConn, redis::RedisError> {
        match self {
            Self::Single(client) => {
                let cfg = redis::aio::ConnectionManagerConfig::new()
                    .set_response_timeout(Some(response_timeout))
                    .set_connection_timeout(Some(redis.connect_timeout))
                    .set_number_of_retries(3)
                    .set_max_delay(Duration::from_secs(2));
                Ok(RedisConn::Single(
                    ConnectionManager::new_with_config((**client).clone(), cfg).await?,
                ))
            }
            Self::Cluster(urls) => {
                let mut b = ClusterClient::builder(urls.iter().map(String::as_str))
                    .response_timeout(response_timeout)
                    .connection_timeout(redis.connect_timeout)
                    .retries(6);
                if let (Some(pem), true) = (
                    &redis.trusted_pem,
                    urls.iter().any(|u| u.starts_with("rediss://")),
                ) {
                    b = b.certs(redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem.clone()),
                    });
                }
                Ok(RedisConn::Cluster(b.build()?.get_async_connection().await?))
            }
        }
    }
}

impl RedisConn {
    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Runs `cmd` on one node: `node` in a cluster (any master when `None`), else the server.
    pub async fn query_node<T: redis::FromRedisValue>(
        &mut self,
        cmd: &Cmd,
        node: Option<(String, u16)>,
    ) -> Result<T, redis::RedisError> {
        match self {
            Self::Cluster(c) => {
                let route = match node {
                    Some((host, port)) => SingleNodeRoutingInfo::ByAddress { host, port },
                    None => SingleNodeRoutingInfo::RandomPrimary,
                };
                Ok(redis::from_redis_value(
                    c.route_command(cmd.clone(), RoutingInfo::SingleNode(route))
                        .await?,
                )?)
            }
            conn => cmd.query_async(conn).await,
        }
    }

    /// The masters' addresses (`host`, `port`) from `CLUSTER SLOTS`; empty for single node.
    pub async fn masters(&mut self) -> Result<Vec<(String, u16)>, redis::RedisError> {
        Ok(self.slot_map().await?.1)
    }

    /// The cluster's slot ranges, as (first slot, last slot, index of its master in
    /// [`Self::masters`]'s order); empty for single node.
    pub async fn slot_ranges(&mut self) -> Result<Vec<(u16, u16, usize)>, redis::RedisError> {
        Ok(self.slot_map().await?.0)
    }

    /// `CLUSTER SLOTS` read once: the slot ranges with their master's index, and the masters
    /// (`host`, `port`) in the order first seen; both empty for single node.
    async fn slot_map(&mut self) -> Result<SlotMap, redis::RedisError> {
        let Self::Cluster(c) = self else {
            return Ok(Default::default());
        };
        let slots: Vec<Vec<Value>> = redis::from_redis_value(
            c.route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
            )
            .await?,
        )?;
        let (mut ranges, mut masters) = SlotMap::default();
        for range in slots {
            // [start, end, [host, port, id, …], replicas…]
            let (Some(start), Some(end), Some(Value::Array(master))) =
                (range.first(), range.get(1), range.get(2))
            else {
                continue;
            };
            let node: (String, u16) = (
                redis::from_redis_value_ref(&master[0])?,
                redis::from_redis_value_ref(&master[1])?,
            );
            let index = match masters.iter().position(|m| *m == node) {
                Some(i) => i,
                None => {
                    masters.push(node);
                    masters.len() - 1
                }
            };
            ranges.push((
                redis::from_redis_value_ref(start)?,
                redis::from_redis_value_ref(end)?,
                index,
            ));
        }
        Ok((ranges, masters))
    }

    /// Every key matching `pattern` (SCAN in steps of `count`, on every master of a cluster),
    /// handed to `visit` one SCAN reply at a time. Keys may be seen twice (SCAN's guarantee);
    /// keys created during the walk may be missed.
    pub async fn scan_match<F, Fut>(
        &mut self,
        pattern: &str,
        count: usize,
        mut visit: F,
    ) -> Result<(), redis::RedisError>
    where
        F: FnMut(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<(), redis::RedisError>>,
    {
        let nodes: Vec<Option<(String, u16)>> = if self.is_cluster() {
            self.masters().await?.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        for node in nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(count);
                let (next, keys): (u64, Vec<String>) = match (&mut *self, &node) {
                    (Self::Cluster(c), Some((host, port))) => {
                        redis::from_redis_value::<(u64, Vec<String>)>(
                            c.route_command(
                                cmd,
                                RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                                    host: host.clone(),
                                    port: *port,
                                }),
                            )
                            .await?,
                        )?
                    }
                    (conn, _) => cmd.query_async(conn).await?,
                };
                if !keys.is_empty() {
                    visit(keys).await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// The keys of `keys` grouped by hash slot (one group per slot, in first-seen order), so a
/// multi-key command (`DEL`, `UNLINK`, `MGET`) can be sent per slot in a cluster.
pub fn by_slot(keys: &[String]) -> Vec<Vec<String>> {
    let mut groups: Vec<(u16, Vec<String>)> = Vec::new();
    for k in keys {
        let s = slot(k);
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push(k.clone()),
            None => groups.push((s, vec![k.clone()])),
        }
    }
    groups.into_iter().map(|(_, v)| v).collect()
}

/// The Redis Cluster hash slot of `key` (CRC16 of its hash tag, or of the whole key).
pub fn slot(key: &str) -> u16 {
    let b = key.as_bytes();
    let tagged = b.iter().position(|&c| c == b'{').and_then(|open| {
        let close = b[open + 1..].iter().position(|&c| c == b'}')?;
        (close > 0).then(|| &b[open + 1..open + 1 + close])
    });
    crc16_xmodem(tagged.unwrap_or(b)) % 16384
}

/// CRC-16/XMODEM, the checksum Redis Cluster's key slots use.
fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_hash_tags() {
        // Values from the Redis Cluster specification.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("foo{}{bar}"), slot("foo{}{bar}"));
        assert_ne!(slot("foo{}{bar}"), slot("bar"));
        assert_eq!(slot("foo{{bar}}zap"), slot("{bar"));
        assert_eq!(slot("foo"), 12182);
        let g = by_slot(&["{a}1".into(), "{b}1".into(), "{a}2".into()]);
        assert_eq!(
            g,
            vec![vec!["{a}1".to_string(), "{a}2".into()], vec!["{b}1".into()]]
        );
    }
}
