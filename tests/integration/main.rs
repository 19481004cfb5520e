//! The one integration-test binary: each area's CLI tests are a module here.

mod support_tune;
mod tune;
