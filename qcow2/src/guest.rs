//! The guest disk as a [`ReadAt`]: what a VM booted from the image (or
//! from one of its snapshots) would read.

use crate::entries::L1Table;
use crate::error::Error;
use crate::image::Image;
use imgcheck_core::{ReadAt, ReadError};
use std::sync::{Arc, Mutex};

/// A guest view: the current disk, or the disk as of a snapshot.
#[derive(Debug, Clone)]
pub struct Guest {
    image: Arc<Image>,
    l1: Arc<L1Table>,
    size: u64,
    snapshot: Option<usize>,
    /// The last range `known_zero` proved zero: callers gallop (ask about
    /// `[x, x+n)`, then `[x, x+2n)`, …), and each answer starts where the
    /// proven range ends instead of walking the mapping again from `x`.
    proven: Arc<Mutex<(u64, u64)>>,
}

impl Guest {
    /// The current guest disk of `image`.
    pub fn new(image: Arc<Image>) -> Guest {
        let l1 = image.active_l1_shared();
        let size = image.header().size;
        Guest {
            image,
            l1,
            size,
            snapshot: None,
            proven: Arc::default(),
        }
    }

    /// The guest disk as of the snapshot with this id (or, when no id
    /// matches, this name): see [`Image::lookup_snapshot`].
    pub fn snapshot(image: Arc<Image>, id_or_name: &str) -> Result<Guest, Error> {
        let index = image.find_snapshot(id_or_name)?.index;
        Guest::snapshot_at(image, index)
    }

    /// The guest disk as of the snapshot at `index` in the table: how a
    /// caller going through every snapshot names each one unambiguously.
    pub fn snapshot_at(image: Arc<Image>, index: usize) -> Result<Guest, Error> {
        let s = image
            .snapshots()
            .get(index)
            .cloned()
            .ok_or_else(|| Error::SnapshotNotFound {
                wanted: format!("#{index}"),
                available: Vec::new(),
            })?;
        let l1 = Arc::new(image.snapshot_l1(&s)?);
        let size = s.disk_size.unwrap_or(image.header().size);
        Ok(Guest {
            image,
            l1,
            size,
            snapshot: Some(s.index),
            proven: Arc::default(),
        })
    }

    /// The image underneath.
    pub fn image(&self) -> &Arc<Image> {
        &self.image
    }

    /// Index of the snapshot this view shows, if any.
    pub fn snapshot_index(&self) -> Option<usize> {
        self.snapshot
    }
}

impl Guest {
    /// Where the guest bytes at `pos` come from in this image (zeros, the
    /// backing file, a host cluster) and how many bytes from `pos` share
    /// that source, never past the end of the disk; an error when the
    /// mapping itself cannot be read (a lost L1 or L2 entry).
    pub fn source_at(&self, pos: u64) -> Result<(crate::Source, u64), ReadError> {
        if pos >= self.size {
            return Err(ReadError::new(
                pos,
                1,
                imgcheck_core::ReadErrorKind::OutOfBounds { len: self.size },
            ));
        }
        let (s, run) = self.image.source(&self.l1, pos)?;
        Ok((s, run.clamp(1, self.size.saturating_sub(pos))))
    }
}

impl ReadAt for Guest {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.image.read_guest(&self.l1, self.size, offset, buf)
    }

    fn known_zero(&self, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        let (a, b) = self.proven.lock().map_or((0, 0), |p| *p);
        let inside = a <= offset && offset <= b && a < b;
        let from = if inside { b.max(offset) } else { offset };
        if from >= end {
            return end <= self.size;
        }
        let zero = self
            .image
            .guest_known_zero(&self.l1, self.size, from, end.saturating_sub(from));
        if zero && let Ok(mut p) = self.proven.lock() {
            *p = if inside { (a, end) } else { (offset, end) };
        }
        zero
    }
}
