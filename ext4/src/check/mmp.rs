//! Multiple-mount protection: the MMP block's magic, checksum and
//! sequence.

use super::Ctx;
use crate::superblock::incompat;
use crate::util::{crc32c_raw, cstr};
use imgcheck_core::bytes::{bytes, le32};

/// MMP block magic.
const MMP_MAGIC: u32 = 0x004D_4D50;

pub(super) fn mmp(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    if !sb.has_incompat(incompat::MMP) {
        return;
    }
    let blk = sb.s_mmp_block;
    if blk <= u64::from(sb.s_first_data_block) || blk >= sb.s_blocks_count {
        c.error(
            "ext4.mmp.block_out_of_range",
            c.sb_at().saturating_add(0x168),
            format!("s_mmp_block is {blk}, outside the filesystem"),
        );
        return;
    }
    let Some(b) = fs.read_block(blk) else { return };
    let off = fs.block_offset(blk).unwrap_or(0);
    let magic = le32(&b, 0);
    if magic != MMP_MAGIC {
        c.error(
            "ext4.mmp.bad_magic",
            off,
            format!("MMP block {blk} magic is {magic:#010x}, expected 0x004d4d50"),
        );
        return;
    }
    if sb.metadata_csum() {
        let want = crc32c_raw(fs.seed, bytes(&b, 0, 0x3FC));
        let got = le32(&b, 0x3FC);
        if want != got {
            c.error(
                "ext4.mmp.checksum",
                off,
                format!("MMP block {blk} checksum is {got:#010x}, computed {want:#010x}"),
            );
        }
    }
    let seq = le32(&b, 4);
    if seq != 0xFF4D_4D50 {
        let node = cstr(bytes(&b, 16, 64));
        c.warning("ext4.mmp.in_use", off, format!("MMP sequence is {seq:#010x}, not the clean value: the filesystem may be in use (last by node \"{node}\")"));
    }
}
