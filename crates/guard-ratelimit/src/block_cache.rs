//! The block cache: a key that the shared store refused until `T` is refused locally until `T`,
//! without a round trip. Bounded like the memory store; a memory store needs no such cache.

use std::sync::Arc;

use guard_core::Clock;

use crate::algorithm::{NEVER, PolicyStatus};
use crate::store::BoundedMap;

/// Refusals of the shared store, remembered until the refusing policies would let a request of
/// the same cost through.
pub(crate) struct BlockCache {
    blocks: BoundedMap<Block>,
    clock: Arc<dyn Clock>,
}

/// A key the shared store refused: requests of the same cost are refused locally until `until`.
struct Block {
    cost: u64,
    until: u64,
    received: u64,
    policies: Vec<PolicyStatus>,
}

impl BlockCache {
    /// A cache of at most `keys` keys (at least 1), on `clock`.
    pub(crate) fn new(keys: usize, clock: Arc<dyn Clock>) -> Self {
        Self { blocks: BoundedMap::new(keys), clock }
    }

    /// The refusal of a request of `cost` for the key whose tagged base is `base`, if one
    /// stands: the statuses of every policy, aged to now.
    pub(crate) fn refused(&self, base: &str, cost: u64) -> Option<Vec<PolicyStatus>> {
        let now = self.clock.now_ms();
        let blocked = self.blocks.get(base, now, |block| {
            (block.cost == cost && now < block.until).then(|| {
                let age = now.saturating_sub(block.received);
                block.policies.iter().map(|p| p.aged(age)).collect::<Vec<_>>()
            })
        });
        blocked.flatten()
    }

    /// Remembers a refusal (the statuses of every policy) until the refusing policies let a
    /// request of this cost through.
    pub(crate) fn remember(&self, base: &str, cost: u64, policies: &[PolicyStatus]) {
        let received = self.clock.now_ms();
        let mut wait = 0;
        for status in policies.iter().filter(|p| p.refused()) {
            match status.retry_after() {
                // A cost above the limit: such requests are refused anyway, nothing to gain.
                Some(_) if status.retry_ms == NEVER => return,
                Some(d) => wait = wait.max(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                None => {}
            }
        }
        if wait == 0 {
            return;
        }
        let until = received.saturating_add(wait);
        self.blocks.update(base, received, |_| {
            let block = Block { cost, until, received, policies: policies.to_vec() };
            ((), Some((block, until)))
        });
    }

    /// Forgets the block of `base` (tests).
    #[cfg(test)]
    pub(crate) fn forget(&self, base: &str) {
        self.blocks.remove(base);
    }
}
