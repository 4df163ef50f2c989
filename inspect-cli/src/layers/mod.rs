//! Adapters between the layer crates and the report: each turns one
//! layer's structures and findings into report nodes, rebasing offsets into
//! the report's spaces. They hold no checks of their own.

pub mod ext4;
pub mod gpt;
pub mod qcow2;

pub use crate::options::{Fatal, Options};
