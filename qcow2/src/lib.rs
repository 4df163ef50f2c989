//! imgcheck-qcow2: being written.
