//! The guest view: mapping a guest offset through the L1 and L2 tables to
//! host bytes (data, zeros, compressed, or the backing file), with the
//! small caches that keep sequential reads from re-reading tables.

use super::{BackingState, DataFile, Image};
use crate::compress::decompress_cluster;
use crate::entries::*;
use crate::limits::*;
use imgcheck_core::bytes::{be64, u64_of, usize_of};
use imgcheck_core::{ReadAt, ReadError, ReadErrorKind};
use std::sync::Arc;

fn read_err(offset: u64, len: u64, msg: impl Into<String>) -> ReadError {
    ReadError::new(offset, len, ReadErrorKind::Layer(msg.into()))
}

/// A read of the file (or data file, or backing file) that failed, as a
/// failed guest read at `pos`: the kind is kept (an I/O error stays an
/// I/O error, a spent budget a spent budget), `what` says which
/// structure was being read.
pub(crate) fn rewrap(e: ReadError, pos: u64, n: u64, what: &str) -> ReadError {
    let kind = match e.kind {
        ReadErrorKind::Io(io) => {
            ReadErrorKind::Io(std::io::Error::new(io.kind(), format!("{what}: {io}")))
        }
        ReadErrorKind::Budget { limit } => ReadErrorKind::Budget { limit },
        ReadErrorKind::TooLarge { limit } => ReadErrorKind::TooLarge { limit },
        ReadErrorKind::Layer(m) => ReadErrorKind::Layer(format!("{what}: {m}")),
        k @ ReadErrorKind::OutOfBounds { .. } => {
            ReadErrorKind::Layer(format!("{what}: {}", ReadError::new(e.offset, e.len, k)))
        }
    };
    ReadError::new(pos, n, kind)
}

/// Why a compressed cluster cannot be decoded.
#[derive(Debug)]
pub enum DecodeError {
    /// Its bytes could not be read (the kind says why).
    Read(ReadError),
    /// Its bytes do not decode to a cluster.
    Invalid(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Read(e) => write!(f, "{e}"),
            DecodeError::Invalid(m) => f.write_str(m),
        }
    }
}

/// A cached L2 table: its bytes and how many leading entries lie inside
/// the file (the rest of a table cut by the end of the file are lost).
pub(crate) type L2Cached = (Arc<[u8]>, u64);

impl Image {
    /// Reads the L2 table at `l2_offset` through the cache.
    pub(crate) fn l2_table(&self, l2_offset: u64) -> Result<L2Cached, ReadError> {
        if let Ok(c) = self.l2_cache.lock()
            && let Some((_, t)) = c.iter().find(|(o, _)| *o == l2_offset)
        {
            return Ok(t.clone());
        }
        let cs = self.header.cluster_size();
        if !l2_offset.is_multiple_of(cs) {
            return Err(read_err(
                l2_offset,
                cs,
                format!("L2 table offset {l2_offset:#x} is not cluster aligned"),
            ));
        }
        let (t, have) = crate::entries::read_zero_filled(self.file.as_ref(), l2_offset, cs, cs)?;
        let valid = have.checked_div(self.header.l2_entry_size()).unwrap_or(0);
        let t: L2Cached = (t.into(), valid);
        if let Ok(mut c) = self.l2_cache.lock() {
            let tables =
                usize_of(L2_CACHE_BYTES.checked_div(cs).unwrap_or(1)).clamp(2, L2_CACHE_TABLES);
            while c.len() >= tables {
                c.remove(0);
            }
            c.push((l2_offset, t.clone()));
        }
        Ok(t)
    }

    /// Decodes the compressed cluster described by `entry`, reading its
    /// sector-rounded length as QEMU does: bytes past the end of the file
    /// read as zeros, so only the bytes the stream really needs count.
    pub fn decompress(&self, entry: u64) -> Result<Arc<[u8]>, DecodeError> {
        if let Ok(c) = self.cluster_cache.lock()
            && let Some((e, d)) = c.as_ref()
            && *e == entry
        {
            return Ok(Arc::clone(d));
        }
        let (coff, csize) = compressed_range(&self.header, entry);
        let cs = self.header.cluster_size();
        if !self.charge_decode(cs) {
            // A bound, not damage: the kind says so to every layer.
            return Err(DecodeError::Read(ReadError::new(
                coff,
                csize,
                ReadErrorKind::Budget {
                    limit: self.decode_bound(),
                },
            )));
        }
        let (input, _) =
            crate::entries::read_zero_filled(self.file.as_ref(), coff, csize, cs.saturating_mul(2))
                .map_err(DecodeError::Read)?;
        let mut out = vec![0u8; usize_of(cs)];
        decompress_cluster(&input, &mut out, self.header.compression_type).map_err(|e| {
            DecodeError::Invalid(if coff.saturating_add(csize) > self.file.len() {
                format!(
                    "compressed cluster at {coff:#x} ({csize} bytes, {} of them past the end of the file): {e}",
                    coff.saturating_add(csize).saturating_sub(self.file.len().max(coff))
                )
            } else {
                format!("compressed cluster at {coff:#x} ({csize} bytes): {e}")
            })
        })?;
        let out: Arc<[u8]> = out.into();
        if let Ok(mut c) = self.cluster_cache.lock() {
            *c = Some((entry, Arc::clone(&out)));
        }
        Ok(out)
    }

    /// Reads guest bytes through the L1 table `l1` of a disk of `size` bytes.
    pub(crate) fn read_guest(
        &self,
        l1: &L1Table,
        size: u64,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ReadError> {
        let total = u64_of(buf.len());
        match offset.checked_add(total) {
            Some(end) if end <= size => {}
            _ => {
                return Err(ReadError::new(
                    offset,
                    total,
                    ReadErrorKind::OutOfBounds { len: size },
                ));
            }
        }
        let mut done = 0usize;
        // Each round fills at least one byte.
        while done < buf.len() {
            let pos = offset.saturating_add(u64_of(done));
            let left = buf.len().saturating_sub(done);
            let (kind, run) = self
                .map(l1, pos)
                .map_err(|e| rewrap(e, pos, u64_of(left), "mapping"))?;
            let n = self.joined(l1, kind, pos, usize_of(run).min(left).max(1), left);
            let end = done.saturating_add(n);
            let dst = buf
                .get_mut(done..end)
                .ok_or_else(|| read_err(pos, 0, "internal range error"))?;
            self.fill(kind, pos, dst)?;
            done = end;
        }
        Ok(())
    }

    /// The run of `n` bytes at `pos` (mapped as `kind`) grown over the
    /// clusters after it that continue it: data clusters adjacent in the
    /// host file, zero clusters, unallocated ones. They are then read with
    /// one pread: one per cluster made a whole-disk read of a qcow2 half as
    /// fast as `cat` of the same bytes. A lookup that fails ends the run
    /// (the next round reports it); the run stays within `left`.
    fn joined(&self, l1: &L1Table, kind: Mapping, pos: u64, mut n: usize, left: usize) -> usize {
        /// Bytes read by one join at most: bounds the buffer a caller's
        /// single read turns into, not only the lookups.
        const MAX_JOIN: usize = 8 << 20;
        let cap = left.min(MAX_JOIN.max(n));
        // Data past the end of the file is an error at its own cluster:
        // a run is never joined across it, so the error keeps its offset.
        let src_len = match &self.data_file {
            None => self.file.len(),
            Some(DataFile::Open(r)) => r.len(),
            Some(DataFile::Unavailable(_)) => 0,
        };
        while n < cap {
            let next = pos.saturating_add(u64_of(n));
            let Ok((k, run)) = self.map(l1, next) else {
                break;
            };
            let continues = match (kind, k) {
                (Mapping::Data(h), Mapping::Data(h2)) => {
                    h.checked_add(u64_of(n)) == Some(h2)
                        && h2.saturating_add(run.min(u64_of(cap.saturating_sub(n)))) <= src_len
                }
                (Mapping::Zero, Mapping::Zero) | (Mapping::Unallocated, Mapping::Unallocated) => {
                    true
                }
                _ => false,
            };
            if !continues {
                break;
            }
            n = n.saturating_add(usize_of(run).max(1)).min(cap);
        }
        n
    }

    fn fill(&self, kind: Mapping, pos: u64, dst: &mut [u8]) -> Result<(), ReadError> {
        let n = u64_of(dst.len());
        match kind {
            Mapping::Zero => dst.fill(0),
            Mapping::Unallocated => self.read_backing(pos, dst)?,
            Mapping::Data(host) => {
                if self.header.crypt_method != 0 {
                    return Err(read_err(
                        pos,
                        n,
                        "cluster is encrypted; it cannot be read without the key",
                    ));
                }
                let src: &dyn ReadAt = match &self.data_file {
                    None => self.file.as_ref(),
                    Some(DataFile::Open(r)) => r.as_ref(),
                    Some(DataFile::Unavailable(why)) => {
                        return Err(read_err(pos, n, format!("the external data file {why}")));
                    }
                };
                let what = if self.data_file.is_some() {
                    "the external data file"
                } else {
                    "the image file"
                };
                if host.saturating_add(n) > src.len() {
                    return Err(read_err(
                        pos,
                        n,
                        format!(
                            "data at host offset {host:#x} lies past the end of {what} ({} bytes): lost",
                            src.len()
                        ),
                    ));
                }
                src.read_exact_at(host, dst)
                    .map_err(|e| rewrap(e, pos, n, &format!("data at host offset {host:#x}")))?;
            }
            Mapping::Compressed { entry, intra } => {
                if self.header.crypt_method != 0 {
                    return Err(read_err(
                        pos,
                        n,
                        "cluster is encrypted; it cannot be read without the key",
                    ));
                }
                let c = self.decompress(entry).map_err(|e| match e {
                    DecodeError::Read(r) => rewrap(r, pos, n, "compressed cluster"),
                    DecodeError::Invalid(m) => read_err(pos, n, m),
                })?;
                let s = usize_of(intra);
                let src = s
                    .checked_add(dst.len())
                    .and_then(|e| c.get(s..e))
                    .ok_or_else(|| read_err(pos, n, "internal range error"))?;
                dst.copy_from_slice(src);
            }
        }
        Ok(())
    }

    fn read_backing(&self, pos: u64, dst: &mut [u8]) -> Result<(), ReadError> {
        let n = u64_of(dst.len());
        let Some(b) = &self.backing else {
            dst.fill(0);
            return Ok(());
        };
        let src_len = match &b.state {
            BackingState::Qcow2(img) => img.header.size,
            BackingState::Raw(r) => r.len(),
            other => {
                return Err(read_err(
                    pos,
                    n,
                    format!("backing file {:?} unavailable: {other}", b.name),
                ));
            }
        };
        // Past the end of a smaller backing file the guest reads zeros.
        let have = usize_of(src_len.saturating_sub(pos).min(n));
        let (head, tail) = dst.split_at_mut(have.min(dst.len()));
        if !head.is_empty() {
            match &b.state {
                BackingState::Qcow2(img) => {
                    img.read_guest(&img.active, img.header.size, pos, head)?
                }
                BackingState::Raw(r) => r
                    .read_exact_at(pos, head)
                    .map_err(|e| rewrap(e, pos, n, &format!("backing file {:?}", b.name)))?,
                _ => {}
            }
        }
        tail.fill(0);
        Ok(())
    }

    /// Whether `offset..offset+len` of the guest (through `l1`) reads as
    /// zeros without looking at data.
    pub(crate) fn guest_known_zero(&self, l1: &L1Table, size: u64, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        if end > size {
            return false;
        }
        let mut pos = offset;
        let mut steps = 0u32;
        // Allocated clusters whose host bytes are a hole of the host file
        // (preallocation=metadata or falloc on a sparse file) read as zeros
        // too. Contiguous host runs are gathered and asked about once: one
        // lseek(SEEK_DATA) per run, not one per cluster.
        let mut host_run: Option<(u64, u64)> = None;
        let src: Option<&dyn ReadAt> = match &self.data_file {
            _ if self.header.crypt_method != 0 => None,
            None => Some(self.file.as_ref()),
            Some(DataFile::Open(r)) => Some(r.as_ref()),
            Some(DataFile::Unavailable(_)) => None,
        };
        let host_hole =
            |(s, e): (u64, u64)| src.is_some_and(|r| e > s && r.known_zero(s, e.saturating_sub(s)));
        // Each round advances by at least one byte; the step bound keeps
        // a huge range of tiny clusters from taking forever ("unknown").
        while pos < end {
            steps = steps.saturating_add(1);
            if steps > MAX_KNOWN_ZERO_STEPS {
                return false;
            }
            let Ok((kind, run)) = self.map_run(l1, pos, true) else {
                return false;
            };
            let take = run.max(1).min(end.saturating_sub(pos));
            if let Mapping::Data(host) = kind {
                if src.is_none() {
                    return false;
                }
                let next = host.saturating_add(take);
                host_run = match host_run {
                    Some((s, e)) if e == host => Some((s, next)),
                    Some(r) => {
                        if !host_hole(r) {
                            return false;
                        }
                        Some((host, next))
                    }
                    None => Some((host, next)),
                };
                pos = pos.saturating_add(run.max(1));
                continue;
            }
            let ok = match kind {
                Mapping::Zero => true,
                Mapping::Unallocated => match self.backing.as_ref().map(|b| &b.state) {
                    None => true,
                    Some(BackingState::Qcow2(img)) => {
                        let r = run.min(end.saturating_sub(pos));
                        pos >= img.header.size
                            || img.guest_known_zero(
                                &img.active,
                                img.header.size,
                                pos,
                                r.min(img.header.size.saturating_sub(pos)),
                            )
                    }
                    _ => false,
                },
                _ => false,
            };
            if !ok {
                return false;
            }
            pos = pos.saturating_add(run.max(1));
        }
        host_run.is_none_or(host_hole)
    }

    /// Maps a guest offset: what it is and how many bytes from it share
    /// that mapping (to the end of the cluster, subcluster or L2 range).
    fn map(&self, l1: &L1Table, pos: u64) -> Result<(Mapping, u64), ReadError> {
        self.map_run(l1, pos, false)
    }

    /// [`Image::map`]; with `coalesce`, a plain data cluster's run goes on
    /// over the following entries of its L2 table that are plain data at
    /// the next host cluster (within the file), so that asking about a
    /// preallocated range costs one step per host extent, not per cluster.
    /// Reads keep one cluster per step: an error names its own cluster.
    fn map_run(&self, l1: &L1Table, pos: u64, coalesce: bool) -> Result<(Mapping, u64), ReadError> {
        let h = &self.header;
        let cs = h.cluster_size();
        let in_cluster = pos.checked_rem(cs).unwrap_or(0);
        let cluster_left = cs.saturating_sub(in_cluster);
        let cluster_index = pos >> h.cluster_bits;
        let l2_entries = h.l2_entries().max(1);
        let l1_index = usize_of(cluster_index.checked_div(l2_entries).unwrap_or(0));
        let l2_index = usize_of(cluster_index.checked_rem(l2_entries).unwrap_or(0));
        if l1_index >= l1.size {
            // Everything past the L1 table is unallocated.
            return Ok((Mapping::Unallocated, u64::MAX.saturating_sub(pos).max(1)));
        }
        let bad = |msg: String| Err(read_err(pos, 1, msg));
        if l1_index >= l1.valid {
            return bad(format!(
                "L1 entry {l1_index} lies past the end of the file (L1 table at {:#x}): the mapping is lost",
                l1.offset
            ));
        }
        let l1e = l1.entries.get(l1_index).copied().unwrap_or(0);
        let l2_off = l1e & L1E_OFFSET_MASK;
        if l2_off == 0 {
            // Unallocated up to the next L1 entry that points to a table
            // (or that lies past the end of the file): skipped wholesale,
            // so the cost follows what is allocated, not the disk size.
            let mut stop = l1
                .next_allocated(l1_index.saturating_add(1))
                .unwrap_or(l1.size);
            if l1.valid < l1.size {
                stop = stop.min(l1.valid);
            }
            if stop >= l1.size {
                return Ok((Mapping::Unallocated, u64::MAX.saturating_sub(pos).max(1)));
            }
            let range_left = u64_of(stop.saturating_sub(l1_index))
                .saturating_mul(h.bytes_per_l1_entry())
                .saturating_sub(u64_of(l2_index).saturating_mul(cs))
                .saturating_sub(in_cluster);
            return Ok((Mapping::Unallocated, range_left.max(1)));
        }
        let (t, valid) = self
            .l2_table(l2_off)
            .map_err(|e| rewrap(e, pos, 1, &format!("L2 table of L1 entry {l1_index}")))?;
        if u64_of(l2_index) >= valid {
            return bad(format!(
                "entry {l2_index} of the L2 table at {l2_off:#x} lies past the end of the file: the mapping is lost"
            ));
        }
        let es = usize_of(h.l2_entry_size());
        let at = l2_index.saturating_mul(es);
        let entry = be64(&t, at);
        let ty = cluster_type(h, entry);
        let host = entry & L2E_OFFSET_MASK;
        if h.extended_l2() {
            let bitmap = be64(&t, at.saturating_add(8));
            let sc_size = cs / 32;
            let sc = u32::try_from(in_cluster.checked_div(sc_size).unwrap_or(0))
                .unwrap_or(0)
                .min(31);
            let sc_left = sc_size.saturating_sub(in_cluster.checked_rem(sc_size).unwrap_or(0));
            let alloc = bitmap & (1u64 << sc) != 0;
            let zero = bitmap & (1u64 << sc.saturating_add(32)) != 0;
            return match ty {
                ClusterType::Compressed => {
                    if bitmap != 0 {
                        return bad(format!(
                            "compressed L2 entry {l2_index} of the table at {l2_off:#x} has a non-zero subcluster bitmap {bitmap:#x}"
                        ));
                    }
                    Ok((
                        Mapping::Compressed {
                            entry,
                            intra: in_cluster,
                        },
                        cluster_left,
                    ))
                }
                ClusterType::Normal | ClusterType::ZeroAlloc => {
                    if (bitmap >> 32) & bitmap != 0 {
                        return bad(format!(
                            "L2 entry {l2_index} of the table at {l2_off:#x} has a corrupt subcluster bitmap {bitmap:#x}"
                        ));
                    }
                    if !host.is_multiple_of(cs) {
                        return bad(format!(
                            "L2 entry {l2_index} of the table at {l2_off:#x}: host offset {host:#x} is not cluster aligned"
                        ));
                    }
                    if zero {
                        Ok((Mapping::Zero, sc_left))
                    } else if alloc {
                        Ok((Mapping::Data(host.saturating_add(in_cluster)), sc_left))
                    } else {
                        Ok((Mapping::Unallocated, sc_left))
                    }
                }
                _ => {
                    if bitmap & 0xffff_ffff != 0 {
                        return bad(format!(
                            "unallocated L2 entry {l2_index} of the table at {l2_off:#x} has allocation bits {bitmap:#x}"
                        ));
                    }
                    Ok((
                        if zero {
                            Mapping::Zero
                        } else {
                            Mapping::Unallocated
                        },
                        sc_left,
                    ))
                }
            };
        }
        match ty {
            ClusterType::Unallocated => Ok((Mapping::Unallocated, cluster_left)),
            ClusterType::ZeroPlain | ClusterType::ZeroAlloc => Ok((Mapping::Zero, cluster_left)),
            ClusterType::Compressed => Ok((
                Mapping::Compressed {
                    entry,
                    intra: in_cluster,
                },
                cluster_left,
            )),
            ClusterType::Normal => {
                if !host.is_multiple_of(cs) {
                    return bad(format!(
                        "L2 entry {l2_index} of the table at {l2_off:#x}: host offset {host:#x} is not cluster aligned"
                    ));
                }
                let mut run = cluster_left;
                if coalesce {
                    let src_len = match &self.data_file {
                        Some(DataFile::Open(r)) => r.len(),
                        Some(DataFile::Unavailable(_)) => 0,
                        None => self.file.len(),
                    };
                    let mut next_host = host.saturating_add(cs);
                    let mut i = u64_of(l2_index).saturating_add(1);
                    // At most one table's entries: bounded by `valid`.
                    while i < valid.min(l2_entries) {
                        let e = be64(&t, usize_of(i).saturating_mul(es));
                        if cluster_type(h, e) != ClusterType::Normal
                            || e & L2E_OFFSET_MASK != next_host
                            || next_host.saturating_add(cs) > src_len
                        {
                            break;
                        }
                        run = run.saturating_add(cs);
                        next_host = next_host.saturating_add(cs);
                        i = i.saturating_add(1);
                    }
                }
                Ok((Mapping::Data(host.saturating_add(in_cluster)), run))
            }
        }
    }
}

impl Image {
    /// Where the guest bytes at `pos` (through `l1`) come from, and how
    /// many bytes from `pos` share that source: the allocation map a
    /// comparison reads before any data (see [`crate::Guest::source_at`]).
    pub(crate) fn source(&self, l1: &L1Table, pos: u64) -> Result<(Source, u64), ReadError> {
        let (m, run) = self.map(l1, pos)?;
        let s = match m {
            Mapping::Zero => Source::Zero,
            Mapping::Unallocated => Source::Backing,
            Mapping::Data(host) => Source::Data {
                host,
                external: self.data_file.is_some(),
            },
            Mapping::Compressed { entry, intra } => Source::Compressed { entry, intra },
        };
        Ok((s, run))
    }
}

/// Where a run of guest bytes is read from, as `qemu-img map` tells it:
/// two views whose runs come from the same bytes of the same file hold
/// the same data without either being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Reads as zeros (a zero cluster or subcluster).
    Zero,
    /// Not allocated in this image: read from the backing file, or zeros
    /// when there is none.
    Backing,
    /// Stored at host offset `host` of the image file, or of its external
    /// data file when `external`.
    Data {
        /// Host byte offset of `pos` itself.
        host: u64,
        /// In the external data file rather than the image file.
        external: bool,
    },
    /// Inside a compressed cluster: its L2 entry and the offset in the
    /// decoded cluster.
    Compressed {
        /// The L2 entry (offset and length of the compressed bytes).
        entry: u64,
        /// Offset of `pos` inside the decoded cluster.
        intra: u64,
    },
}

#[derive(Debug, Clone, Copy)]
enum Mapping {
    Zero,
    Unallocated,
    Data(u64),
    Compressed { entry: u64, intra: u64 },
}
