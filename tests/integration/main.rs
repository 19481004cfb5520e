//! The one integration-test binary; each area adds its module here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod planner;
mod support_planner;
