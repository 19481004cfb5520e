//! Models as the planner sees them.
//!
//! [`spec::ModelSpec`] is the only thing the planner knows about a model: architecture
//! facts and every tensor's name, shape, type, byte size and class. It is built from a
//! GGUF header (`spec::ModelSpec::from_gguf`, in `from_gguf`) or from the bundled
//! catalog (`catalog`, via the shape generator `synth` and the quant rules `quantize`).
//! `hparams` reads hyperparameters, `classify` names tensor classes, `assemble` joins
//! them. Resolving a user's MODEL reference (path, catalog id, `hf:` or https URL) lives
//! in `reference`.

pub mod assemble;
pub mod catalog;
pub mod classify;
pub mod from_gguf;
pub mod hparams;
pub mod projector;
pub mod quantize;
pub mod reference;
pub mod spec;
pub mod synth;
pub mod variants;

pub use spec::{
    AttentionKind, EngineSupport, LayerSpec, MlaDims, ModelSpec, RecurrentState, TensorClass,
    TensorSpec,
};
