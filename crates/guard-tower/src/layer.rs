//! The layer that wraps a service with a guard.

use std::sync::Arc;

use tower_layer::Layer;

use crate::service::GuardService;

/// Applies a guard (or a stack of guards) to every request of the wrapped service.
///
/// The guard is compiled before it is handed over and shared by every clone of the service.
#[derive(Debug)]
pub struct GuardLayer<G> {
    guard: Arc<G>,
}

impl<G> GuardLayer<G> {
    /// A layer applying `guard`.
    pub fn new(guard: G) -> Self {
        Self { guard: Arc::new(guard) }
    }

    /// A layer applying a guard that is already shared with other layers.
    pub fn from_shared(guard: Arc<G>) -> Self {
        Self { guard }
    }
}

impl<G> Clone for GuardLayer<G> {
    fn clone(&self) -> Self {
        Self { guard: self.guard.clone() }
    }
}

impl<S, G> Layer<S> for GuardLayer<G> {
    type Service = GuardService<S, G>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService::new(inner, self.guard.clone())
    }
}
