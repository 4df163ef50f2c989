//! The pipeline's bounds on the layer tree. Each is enforced before the
//! work it bounds, and hitting one is a finding: the report says what was
//! not inspected, never silently less.

/// Most layers nested inside one another (image file → container → table
/// → partition → volume group → logical volume → container → …). Deeper
/// than any real stack; a layer that hands out a child of itself forever
/// stops here.
pub const MAX_DEPTH: usize = 16;

/// Most children of one node the pipeline shows and inspects (partitions
/// of a table, logical volumes of a group): a garbage or hostile table can
/// declare thousands of entries. The rest are counted in one finding on the
/// node, and the findings the parent made about them stay on the parent.
pub const MAX_CHILDREN: usize = 256;

/// Bytes the check of one image may read from its file, whatever the
/// file's size: the floor of the read bound. Hostile images read little
/// data many times (an L1 table whose entries all name one L2 table, a
/// journal whose blocks form a DAG, a huge claimed disk with `--scan`);
/// this ends them, in well under a second's reading.
pub const READ_BYTES_BASE: u64 = 1 << 30;

/// On top of [`READ_BYTES_BASE`], this many times the file's length: the
/// most a sound image needs is to read everything once (`--scan`) plus its
/// metadata again (`--deep`), so a real disk of any size is never cut
/// short.
pub const READ_BYTES_PER_FILE_BYTE: u64 = 4;

/// Layer nodes one image's walk may inspect (each probe and inspect is a
/// visit); layers walking their own graphs memoise by offset and charge
/// the same budget.
pub const MAX_VISITS: u64 = 1 << 20;

/// The read bound for a file of `len` bytes.
pub fn read_bound(len: u64) -> u64 {
    READ_BYTES_BASE.saturating_add(len.saturating_mul(READ_BYTES_PER_FILE_BYTE))
}
