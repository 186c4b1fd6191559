//! One circuit breaker per node of a store: [`StoreBreakers`].

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::{BreakerConfig, BreakerState, CircuitBreaker};

/// The circuit breakers of one store, one per node, so that a node that fails stops only the
/// keys it serves: on a Redis Cluster, one breaker per master; on a single server, one.
///
/// The node of a call is named by the store (for Redis,
/// [`RedisConnection::node_of`](crate::redis::RedisConnection::node_of)); calls without a node
/// share one breaker.
///
/// ```
/// use guard_core::{BreakerConfig, BreakerState, StoreBreakers};
///
/// let breakers = StoreBreakers::new("rate limit", BreakerConfig::default());
/// let a = breakers.node(Some("10.0.0.1:7000"));
/// let b = breakers.node(Some("10.0.0.2:7000"));
/// assert!(!std::sync::Arc::ptr_eq(&a, &b));
/// assert_eq!(breakers.state(), BreakerState::Closed);
/// ```
#[derive(Debug)]
pub struct StoreBreakers {
    name: String,
    config: BreakerConfig,
    default: Arc<CircuitBreaker>,
    nodes: RwLock<HashMap<Arc<str>, Arc<CircuitBreaker>>>,
}

/// More nodes than any cluster has: beyond this, unknown nodes share the default breaker, so that
/// a stream of odd node names cannot grow the map.
pub(super) const MAX_NODES: usize = 1024;

impl StoreBreakers {
    /// Breakers for the store called `name`, each with `config`.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        let name = name.into();
        Self {
            default: Arc::new(CircuitBreaker::new(name.clone(), config)),
            name,
            config,
            nodes: RwLock::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The breaker of `node` (`None`: the store's only node).
    pub fn node(&self, node: Option<&str>) -> Arc<CircuitBreaker> {
        let Some(node) = node else { return self.default.clone() };
        if let Some(breaker) = self.nodes.read().unwrap_or_else(PoisonError::into_inner).get(node) {
            return breaker.clone();
        }
        let mut nodes = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        if nodes.len() >= MAX_NODES && !nodes.contains_key(node) {
            return self.default.clone();
        }
        nodes
            .entry(Arc::from(node))
            .or_insert_with(|| {
                Arc::new(CircuitBreaker::new(format!("{} @ {node}", self.name), self.config))
            })
            .clone()
    }

    /// The worst state of any node: open if one is open, else half-open if one is, else closed.
    pub fn state(&self) -> BreakerState {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        std::iter::once(&self.default).chain(nodes.values()).map(|b| b.state()).fold(
            BreakerState::Closed,
            |worst, s| match (worst, s) {
                (BreakerState::Open, _) | (_, BreakerState::Open) => BreakerState::Open,
                (BreakerState::HalfOpen, _) | (_, BreakerState::HalfOpen) => BreakerState::HalfOpen,
                _ => BreakerState::Closed,
            },
        )
    }

    /// Each node's state, the default breaker as `None`.
    pub fn states(&self) -> Vec<(Option<String>, BreakerState)> {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        std::iter::once((None, self.default.state()))
            .chain(nodes.iter().map(|(n, b)| (Some(n.to_string()), b.state())))
            .collect()
    }
}
