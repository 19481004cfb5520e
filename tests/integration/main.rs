//! The one integration test binary: each area's tests are a module here.

mod gguf;
mod support_gguf;
