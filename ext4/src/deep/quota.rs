//! Quota usage (pass 1 counts it, as e2fsck does): per user, group and
//! project, compared with what each quota file records.

use super::Deep;
use crate::inode::Inode;
use imgcheck_core::bytes::{le16, le32};
use std::collections::HashMap;

impl Deep<'_, '_> {
    /// Charges `bytes` and `inodes` to `ino`'s user, group and project, as
    /// e2fsck's quota_data_add / quota_data_inodes (the caller chooses which
    /// inodes are charged).
    pub(super) fn quota_add(&mut self, ino: &Inode, bytes: u64, inodes: u64) {
        if self.quota.is_none() {
            return;
        }
        let raw = &ino.raw;
        let uid = u32::from(le16(raw, 0x2)) | (u32::from(le16(raw, 0x78)) << 16);
        let gid = u32::from(le16(raw, 0x18)) | (u32::from(le16(raw, 0x7A)) << 16);
        let prj = if raw.len() > 128 && le16(raw, 0x80) >= 32 {
            le32(raw, 0x9C)
        } else {
            0
        };
        let space = bytes;
        let mut hit = false;
        if let Some(q) = self.quota.as_mut() {
            for (t, id) in [(0usize, uid), (1, gid), (2, prj)] {
                if let Some(m) = q.get_mut(t) {
                    if m.len() >= (1 << 20) && !m.contains_key(&id) {
                        hit = true;
                        continue;
                    }
                    let e = m.entry(id).or_insert((0, 0));
                    e.0 = e.0.saturating_add(space);
                    e.1 = e.1.saturating_add(inodes);
                }
            }
        }
        self.quota_bound_hit |= hit;
    }

    /// Compares the usage recorded in each quota file with what was counted.
    pub(super) fn quota_check(&mut self) {
        let Some(counted) = self.quota.take() else {
            return;
        };
        if self.quota_bound_hit {
            self.warning(
                "ext4.check.bound",
                1024,
                format!(
                    "more than {} quota ids of one type: the usage of the rest was not compared",
                    1 << 20
                ),
            );
        }
        let sb = &self.fs.sb;
        let files = [
            ("user", sb.s_usr_quota_inum),
            ("group", sb.s_grp_quota_inum),
            ("project", sb.s_prj_quota_inum),
        ];
        for (t, (name, qino)) in files.into_iter().enumerate() {
            if qino == 0 || qino > sb.s_inodes_count {
                continue;
            }
            let Some(qi) = self.fs.read_inode(qino) else {
                continue;
            };
            let disk = match crate::quota::read_usage(self.fs, &qi) {
                Ok(d) => d,
                Err(crate::quota::QuotaMiss::Corrupt(why)) => {
                    self.warning("ext4.quota.unreadable", qi.offset, format!("the {name} quota file (inode {qino}) cannot be read as a quota file ({why}): e2fsck recomputes the usage"));
                    continue;
                }
                Err(crate::quota::QuotaMiss::TooLarge) => {
                    self.warning("ext4.check.bound", qi.offset, format!("the {name} quota file (inode {qino}) is larger than this check reads: its usage was not compared"));
                    continue;
                }
                Err(crate::quota::QuotaMiss::Unreadable) => continue,
            };
            let empty = HashMap::new();
            let mine = counted.get(t).unwrap_or(&empty);
            let mut ids: Vec<u32> = disk.keys().chain(mine.keys()).copied().collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                let d = disk.get(&id).copied().unwrap_or((0, 0));
                let c = mine.get(&id).copied().unwrap_or((0, 0));
                if d != c {
                    self.warning("ext4.quota.usage_mismatch", qi.offset, format!("{name} quota for id {id} records {} bytes in {} inodes, {} bytes in {} inodes were counted", d.0, d.1, c.0, c.1));
                }
            }
        }
    }
}
