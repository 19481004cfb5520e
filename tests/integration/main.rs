//! The one integration-test binary; each area adds its module here.

mod planner;
mod support_planner;
