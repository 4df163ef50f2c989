//! imgcheck-gpt: being written.
