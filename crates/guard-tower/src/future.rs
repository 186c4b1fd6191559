//! The future returned by [`GuardService`](crate::GuardService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The response future of [`GuardService`](crate::GuardService).
///
/// Guards may await I/O (Redis) before the inner service is called, so the whole exchange is one
/// boxed future: one allocation per request, against a round trip that costs far more.
pub struct ResponseFuture<R, E> {
    pub(crate) inner: Pin<Box<dyn Future<Output = Result<R, E>> + Send>>,
}

impl<R, E> Future for ResponseFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<R, E> fmt::Debug for ResponseFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
