//! The one integration test binary: each area's tests are a module here.

mod model;
mod support_model;
