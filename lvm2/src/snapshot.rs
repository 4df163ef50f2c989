//! Old-style LVM snapshots (`dm-snap-persistent.c`): the COW store starts
//! with a header chunk `{magic "SnAp", valid, version 1, chunk_size}`, then
//! areas of one metadata chunk of `{old_chunk, new_chunk}` pairs followed by
//! the data chunks it describes; `new_chunk == 0` ends the table. The
//! snapshot reads its COW copy for every chunk that has one and the origin
//! for the rest.

use imgcheck_core::bytes::{le32, le64, u64_of};
use imgcheck_core::{ReadAt, ReadError, ReadErrorKind, read_vec};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `SNAP_MAGIC`.
pub const SNAP_MAGIC: u32 = 0x7041_6E53;
/// Most exceptions read.
pub const MAX_EXCEPTIONS: u64 = 1 << 24;
/// Largest chunk read (dm allows up to 512 KiB).
const MAX_CHUNK: u64 = 1 << 20;

/// A snapshot's view of its origin.
pub struct SnapshotView {
    origin: Arc<dyn ReadAt>,
    cow: Arc<dyn ReadAt>,
    chunk: u64,
    /// old chunk → chunk in the COW store.
    map: BTreeMap<u64, u64>,
}

impl SnapshotView {
    /// Reads the COW store's header and exception table; `chunk` is LVM's
    /// chunk_size in bytes.
    pub fn open(
        origin: Arc<dyn ReadAt>,
        cow: Arc<dyn ReadAt>,
        chunk: u64,
    ) -> Result<SnapshotView, String> {
        if chunk == 0 || chunk > MAX_CHUNK {
            return Err(format!("chunk size {chunk} bytes"));
        }
        let h = read_vec(cow.as_ref(), 0, 16, 16).map_err(|e| format!("COW header: {e}"))?;
        if le32(&h, 0) != SNAP_MAGIC {
            return Err("COW store has no \"SnAp\" header".into());
        }
        if le32(&h, 4) == 0 {
            return Err(
                "the snapshot is invalid (it overflowed or failed): dm would refuse it".into(),
            );
        }
        if u64::from(le32(&h, 12)).saturating_mul(512) != chunk {
            return Err(format!(
                "COW header chunk size {} sectors, LVM metadata {}",
                le32(&h, 12),
                chunk / 512
            ));
        }
        let per_area = chunk / 16;
        let chunks = cow.len().checked_div(chunk).unwrap_or(0);
        let mut map = BTreeMap::new();
        let mut area = 0u64;
        'areas: loop {
            let meta_chunk = 1u64.saturating_add(area.saturating_mul(per_area.saturating_add(1)));
            if meta_chunk >= chunks {
                break;
            }
            let b = read_vec(
                cow.as_ref(),
                meta_chunk.saturating_mul(chunk),
                chunk,
                MAX_CHUNK,
            )
            .map_err(|e| format!("COW exception area {area}: {e}"))?;
            for i in 0..per_area {
                let o = usize::try_from(i.saturating_mul(16)).unwrap_or(usize::MAX);
                let (old, new) = (le64(&b, o), le64(&b, o.saturating_add(8)));
                if new == 0 {
                    break 'areas;
                }
                if new >= chunks {
                    return Err(format!(
                        "exception maps chunk {old} to COW chunk {new}, past the store's {chunks}"
                    ));
                }
                if u64_of(map.len()) >= MAX_EXCEPTIONS {
                    return Err(format!("more than {MAX_EXCEPTIONS} exceptions"));
                }
                map.insert(old, new);
            }
            area = area.saturating_add(1);
        }
        Ok(SnapshotView {
            origin,
            cow,
            chunk,
            map,
        })
    }

    /// Chunks the snapshot holds a copy of.
    pub fn exceptions(&self) -> usize {
        self.map.len()
    }
}

impl ReadAt for SnapshotView {
    fn len(&self) -> u64 {
        self.origin.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let total = u64_of(buf.len());
        if offset.checked_add(total).is_none_or(|e| e > self.len()) {
            return Err(ReadError::new(
                offset,
                total,
                ReadErrorKind::OutOfBounds { len: self.len() },
            ));
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset.saturating_add(u64_of(done));
            let c = pos.checked_div(self.chunk).unwrap_or(0);
            let within = pos.checked_rem(self.chunk).unwrap_or(0);
            let n = usize::try_from(self.chunk.saturating_sub(within))
                .unwrap_or(usize::MAX)
                .min(buf.len().saturating_sub(done));
            let end = done.saturating_add(n);
            let Some(part) = buf.get_mut(done..end) else {
                break;
            };
            let r = match self.map.get(&c) {
                Some(&new) => self
                    .cow
                    .read_exact_at(new.saturating_mul(self.chunk).saturating_add(within), part),
                None => self.origin.read_exact_at(pos, part),
            };
            r.map_err(|mut e| {
                e.offset = pos;
                e
            })?;
            done = end;
        }
        Ok(())
    }
}
