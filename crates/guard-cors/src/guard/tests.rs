//! The guard's tests, one module per theme, on the requests and readings of `helpers`.

mod helpers;

mod actual;
mod build;
mod origin_kinds;
mod preflight;
mod private_network;
mod property;
mod vary;
