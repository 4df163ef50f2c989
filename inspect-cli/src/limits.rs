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
