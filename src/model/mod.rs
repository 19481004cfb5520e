//! Models as the planner sees them.
//!
//! [`spec::ModelSpec`] is the only thing the planner knows about a model: architecture
//! facts and every tensor's name, shape, type, byte size and class. It is built from a
//! GGUF header (`spec::ModelSpec::from_gguf`) or from the bundled catalog. Resolving a
//! user's MODEL reference (path, catalog id, `hf:` or https URL) lives in `reference`.

pub mod spec;

pub use spec::{
    AttentionKind, EngineSupport, LayerSpec, MlaDims, ModelSpec, RecurrentState, TensorClass,
    TensorSpec,
};
