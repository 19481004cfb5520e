//! The one integration test binary: one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;
mod gen;
mod hardware;
mod support_gen;
