//! Files by path ([`FileLookup`]) over the filesystems whose crates can
//! walk a path: ext2/3/4, XFS and FAT. Each lookup opens the volume again
//! from the shared reader (a superblock and its descriptors: cheap next
//! to the lookups the boot chain makes, a few dozen per disk), so the
//! facts carry no borrowed state.

use imgcheck_core::{BootFile, FileLookup, Files, ReadAt};
use std::sync::Arc;

/// An ext2/3/4 filesystem's files.
pub struct Ext4Files {
    r: Arc<dyn ReadAt>,
    uuid: Option<String>,
    label: Option<String>,
}

/// The lookup for the ext2/3/4 filesystem in `r`.
pub fn ext4(r: &Arc<dyn ReadAt>, uuid: &str, label: Option<String>) -> Files {
    Files(Arc::new(Ext4Files {
        r: Arc::clone(r),
        uuid: (!uuid.is_empty()).then(|| uuid.to_string()),
        label,
    }))
}

impl FileLookup for Ext4Files {
    fn uuid(&self) -> Option<String> {
        self.uuid.clone()
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn lookup(&self, path: &str, head: u64) -> BootFile {
        let fs = match imgcheck_ext4::Ext4::open(self.r.as_ref()) {
            Ok(fs) => fs,
            Err(e) => return BootFile::unreadable(path, &e.to_string()),
        };
        match fs.lookup(path) {
            Ok(None) => BootFile::absent(path),
            Err(e) => BootFile::unreadable(path, &e),
            Ok(Some(f)) => {
                let dir = f.inode.is_dir();
                let (bytes, read_problem) = if dir {
                    (Vec::new(), None)
                } else {
                    match fs.read_head(&f, head) {
                        Ok(b) => (b, None),
                        Err(e) => (Vec::new(), Some(e)),
                    }
                };
                // The first block holding logical block 0's data, so a
                // finding about a file's first bytes points at them.
                let data_at = f
                    .runs
                    .iter()
                    .min_by_key(|r| r.logical)
                    .and_then(|r| r.physical.checked_mul(fs.bs));
                BootFile {
                    path: path.to_string(),
                    present: true,
                    dir,
                    size: Some(f.inode.i_size),
                    head: bytes,
                    data_at,
                    problem: f.problem.or(read_problem),
                }
            }
        }
    }

    fn list(&self, path: &str, max: usize) -> Option<Vec<String>> {
        let fs = imgcheck_ext4::Ext4::open(self.r.as_ref()).ok()?;
        let f = fs.lookup(path).ok()??;
        fs.names(&f, max)
    }

    fn required_features(&self) -> Vec<String> {
        imgcheck_ext4::Ext4::open(self.r.as_ref()).map_or_else(
            |_| Vec::new(),
            |fs| imgcheck_ext4::feature_names(0, fs.sb.s_feature_incompat, 0),
        )
    }
}

/// A FAT filesystem's files.
pub struct FatFiles {
    r: Arc<dyn ReadAt>,
    uuid: Option<String>,
    label: Option<String>,
}

/// The lookup for the FAT filesystem in `r`.
pub fn fat(r: &Arc<dyn ReadAt>, uuid: Option<String>, label: Option<String>) -> Files {
    Files(Arc::new(FatFiles {
        r: Arc::clone(r),
        uuid,
        label,
    }))
}

impl FileLookup for FatFiles {
    fn uuid(&self) -> Option<String> {
        self.uuid.clone()
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn lookup(&self, path: &str, head: u64) -> BootFile {
        let vol = match imgcheck_fat::Volume::open(self.r.as_ref()) {
            Ok(v) => v,
            Err(e) => return BootFile::unreadable(path, &e.to_string()),
        };
        match vol.lookup(path) {
            Ok(None) => BootFile::absent(path),
            Err(e) => BootFile::unreadable(path, &e.to_string()),
            Ok(Some(e)) if e.is_dir() => BootFile {
                path: path.to_string(),
                present: true,
                dir: true,
                ..BootFile::default()
            },
            Ok(Some(e)) => {
                let ch = vol.chain(&e);
                let (bytes, read_problem) = match vol.read(&e, head) {
                    Ok(b) => (b, None),
                    Err(err) => (Vec::new(), Some(err.to_string())),
                };
                BootFile {
                    path: path.to_string(),
                    present: true,
                    dir: false,
                    size: Some(u64::from(e.size)),
                    head: bytes,
                    data_at: ch.extents.first().map(|x| x.start),
                    problem: (ch.bytes < u64::from(e.size))
                        .then(|| {
                            format!(
                                "its cluster chain covers {} of its {} bytes: {}",
                                ch.bytes, e.size, ch.end
                            )
                        })
                        .or(read_problem),
                }
            }
        }
    }

    fn list(&self, path: &str, max: usize) -> Option<Vec<String>> {
        let vol = imgcheck_fat::Volume::open(self.r.as_ref()).ok()?;
        let d = vol.lookup(path).ok()??;
        let names = vol.read_dir(&d).ok()?;
        Some(names.into_iter().take(max).map(|e| e.name).collect())
    }
}

/// An XFS filesystem's files.
pub struct XfsFiles {
    r: Arc<dyn ReadAt>,
    uuid: Option<String>,
    label: Option<String>,
}

/// The lookup for the XFS filesystem in `r` (through its primary
/// superblock, as GRUB's xfs driver reads it).
pub fn xfs(r: &Arc<dyn ReadAt>, uuid: &str, label: Option<String>) -> Files {
    Files(Arc::new(XfsFiles {
        r: Arc::clone(r),
        uuid: (!uuid.is_empty()).then(|| uuid.to_string()),
        label,
    }))
}

impl FileLookup for XfsFiles {
    fn uuid(&self) -> Option<String> {
        self.uuid.clone()
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn lookup(&self, path: &str, head: u64) -> BootFile {
        let fs = match imgcheck_xfs::path::Xfs::open(self.r.as_ref()) {
            Ok(fs) => fs,
            Err(e) => return BootFile::unreadable(path, &e),
        };
        match fs.lookup(path) {
            Ok(None) => BootFile::absent(path),
            Err(e) => BootFile::unreadable(path, &e),
            Ok(Some(f)) => {
                let dir = f.is_dir();
                let (bytes, read_problem) = if dir {
                    (Vec::new(), None)
                } else {
                    match fs.read_head(&f, head) {
                        Ok(b) => (b, None),
                        Err(e) => (Vec::new(), Some(e)),
                    }
                };
                // The extent holding file block 0, so a finding about a
                // file's first bytes points at them.
                let data_at = f
                    .runs
                    .iter()
                    .filter(|r| !r.unwritten)
                    .min_by_key(|r| r.logical)
                    .map(|r| r.byte);
                BootFile {
                    path: path.to_string(),
                    present: true,
                    dir,
                    size: Some(f.inode.size),
                    head: bytes,
                    data_at,
                    problem: f.problem.or(read_problem),
                }
            }
        }
    }

    fn list(&self, path: &str, max: usize) -> Option<Vec<String>> {
        let fs = imgcheck_xfs::path::Xfs::open(self.r.as_ref()).ok()?;
        let f = fs.lookup(path).ok()??;
        fs.names(&f, max)
    }
}
