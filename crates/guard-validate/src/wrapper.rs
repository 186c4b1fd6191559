//! The impls every transparent wrapper of a body value shares: [`AllowUnknownKeys`] here, and
//! the `ValidJson<T>` extractor of each adapter (which must define its own type, the framework's
//! extractor trait being foreign to both crates).
//!
//! [`AllowUnknownKeys`]: crate::AllowUnknownKeys

/// `into_inner`, `Deref` and `DerefMut` for `$name<T>`, a tuple struct whose one field is the
/// `T` it wraps; `$into_inner` documents `into_inner`. Not part of the API: for this crate and
/// the adapters only.
#[doc(hidden)]
#[macro_export]
macro_rules! __transparent_wrapper {
    ($name:ident, $into_inner:literal) => {
        impl<T> $name<T> {
            #[doc = $into_inner]
            pub fn into_inner(self) -> T {
                self.0
            }
        }

        impl<T> ::core::ops::Deref for $name<T> {
            type Target = T;

            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> ::core::ops::DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
    };
}
