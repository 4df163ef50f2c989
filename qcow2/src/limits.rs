//! Resource bounds. Every size or count read from an image is checked
//! against one of these before it sizes an allocation or a loop, so a
//! hostile image costs at most these amounts.

/// Smallest `cluster_bits` (512-byte clusters).
pub const MIN_CLUSTER_BITS: u32 = 9;
/// Largest `cluster_bits` QEMU accepts (2 MiB clusters).
pub const MAX_CLUSTER_BITS: u32 = 21;
/// Largest L1 table in bytes (QEMU's `QCOW_MAX_L1_SIZE`).
pub const MAX_L1_BYTES: u64 = 32 << 20;
/// Largest refcount table in bytes (QEMU's `QCOW_MAX_REFTABLE_SIZE`).
pub const MAX_REFTABLE_BYTES: u64 = 8 << 20;
/// Most internal snapshots (QEMU's `QCOW_MAX_SNAPSHOTS`).
pub const MAX_SNAPSHOTS: u32 = 65536;
/// Largest snapshot table in bytes (QEMU's `QCOW_MAX_SNAPSHOTS_SIZE`).
pub const MAX_SNAPSHOT_TABLE_BYTES: u64 = 64 << 20;
/// Largest per-snapshot extra data (QEMU's `QCOW_MAX_SNAPSHOT_EXTRA_DATA`).
pub const MAX_SNAPSHOT_EXTRA_DATA: u32 = 1024;
/// Largest single header extension.
pub const MAX_EXTENSION_BYTES: u32 = 1 << 20;
/// Longest backing file name (QEMU's limit).
pub const MAX_BACKING_NAME: u32 = 1023;
/// Deepest backing chain followed. QEMU sets no limit (qemu-img 10.0 opens and checks a 301-file chain), and long chains of
/// external snapshots are real (a chain of 21 files opens cleanly in
/// qemu-img), so this is well past them; what a chain costs in total is
/// bounded by [`MAX_CHAIN_HELD_BYTES`] and the image's budget, which each
/// file only raises by its share.
pub const MAX_CHAIN_DEPTH: usize = 256;
/// Most bytes of tables (L1 tables, snapshot tables) a whole backing chain
/// holds in memory; a backing file that would pass it is not opened.
pub const MAX_CHAIN_HELD_BYTES: u64 = 384 << 20;
/// Largest virtual disk accepted (2^61 bytes, as QEMU's `QCOW_MAX_L1_SIZE` with 2 MiB clusters allows).
pub const MAX_VIRTUAL_SIZE: u64 = 1 << 61;
/// Most bitmaps in the bitmap directory (QEMU's `QCOW2_MAX_BITMAPS`).
pub const MAX_BITMAPS: u32 = 65535;
/// Largest bitmap directory in bytes (QEMU's `QCOW2_MAX_BITMAP_DIRECTORY_SIZE`).
pub const MAX_BITMAP_DIRECTORY_BYTES: u64 = 64 << 20;
/// Largest bitmap table in bytes.
pub const MAX_BITMAP_TABLE_BYTES: u64 = 64 << 20;
/// Most clusters the checker tracks: one byte and one bit each in memory
/// (72 MiB), plus four bytes for each cluster whose count exceeds 6, in
/// 1024-cluster chunks (at worst 328 MiB in all).
pub const MAX_CHECK_CLUSTERS: u64 = 1 << 26;
/// L2 tables kept in the guest reader's cache.
pub const L2_CACHE_TABLES: usize = 32;
/// Bytes of L2 tables one image's cache holds at most (two tables of
/// 2 MiB clusters, each mapping 512 GiB): a chain of [`MAX_CHAIN_DEPTH`]
/// images with large clusters stays far below a GiB.
pub const L2_CACHE_BYTES: u64 = 4 << 20;
/// Refcount blocks kept in the checker's cache for random lookups.
pub const REFBLOCK_CACHE: usize = 64;
/// Largest table offset accepted (QEMU requires offset + size <= INT64_MAX).
pub const MAX_TABLE_OFFSET: u64 = 1 << 62;
/// The check's own work bound, bytes read: this base plus
/// [`CHECK_BYTES_PER_FILE_BYTE`] for each byte of the image file. A sound
/// check reads each table once and the refcount blocks twice, so this is
/// reached only by structures that make it read the same bytes again and
/// again.
pub const CHECK_BASE_BYTES: u64 = 1 << 30;
/// Bytes the check may read per byte of the image file, beyond the base.
pub const CHECK_BYTES_PER_FILE_BYTE: u64 = 4;
/// Most structures (L1 and L2 tables, refcount blocks, bitmap tables,
/// compressed clusters decoded) the check visits.
pub const MAX_CHECK_VISITS: u64 = 1 << 28;
/// Most distinct L2 tables the check walks: far more than a file of
/// [`MAX_CHECK_CLUSTERS`] clusters can hold as real tables of data.
pub const MAX_CHECK_L2_TABLES: usize = 1 << 23;
/// Most bytes of snapshot L1 tables the checker walks in total.
pub const MAX_CHECK_L1_BYTES: u64 = 1 << 30;
/// Most steps `known_zero` takes before answering "unknown".
pub const MAX_KNOWN_ZERO_STEPS: u32 = 1 << 20;
/// Bytes of compressed clusters one image decodes, at most: this base
/// plus [`DECODE_BYTES_PER_FILE_BYTE`] for each byte of its file. A
/// compressed cluster is read from a few hundred bytes and decodes to a
/// whole cluster (2 MiB at most), so L2 entries naming the same or many
/// tiny streams again and again would decode terabytes from a small file
/// while reading little; real images decode far less (QEMU's compressed
/// images shrink data a few times, and a check decodes each cluster about
/// twice: once by the deep check, once read by the layers).
pub const DECODE_BASE_BYTES: u64 = 64 << 20;
/// Decoded bytes allowed per byte of the image file, beyond the base.
pub const DECODE_BYTES_PER_FILE_BYTE: u64 = 16;
