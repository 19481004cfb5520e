//! The one integration test binary: each area's tests are a module here.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backends;
mod build_downloader;
mod e2e;
mod edges;
mod expert_overrides;
mod gen;
mod gguf;
mod hardware;
mod model;
mod perf;
mod planner;
mod projector;
mod rpc;
mod speculative;
mod split;
mod support;
mod support_engine;
mod support_gen;
mod support_gguf;
mod support_model;
mod support_planner;
mod support_tune;
mod tidy;
mod tune;
