//! imgcheck-ext4: being written.
