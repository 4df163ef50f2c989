//! The full check reads an inode table once (issue 20): the zeroed-
//! structure scan that follows the filesystem layers asks whether the
//! table blocks of named inodes (and directory blocks) read as zeros, and
//! is answered from what the ext4 layer read as it filled the reverse map
//! instead of reading each such block again: 65,536 reads of 4 KiB through
//! the qcow2 layer on bench/bigguest.sh's 1 M-file guest, a fifth of its
//! check. The image is testdata/scripts/lost-evidence.sh's
//! lost/dir-leaf.img (mkfs.ext4 -d of 3,000 files in one linear
//! directory, its leaf block 2 zeroed), whose zeroed leaf must still be
//! found.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck::layout::{StructureBudget, zeroed_structure_blocks};
use imgcheck::options::Options;
use imgcheck::pipeline::inspect_reader;
use imgcheck::report::Node;
use imgcheck_core::{FileReader, OwnerKind, ReadAt, ReadError};
use imgcheck_testdata::fixture;
use std::sync::{Arc, Mutex};

/// A disk that logs every read: `(offset, len)`.
struct Logged {
    inner: FileReader,
    log: Mutex<Vec<(u64, u64)>>,
}

impl ReadAt for Logged {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.log.lock().unwrap().push((offset, buf.len() as u64));
        self.inner.read_exact_at(offset, buf)
    }
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        self.inner.known_zero(offset, len)
    }
}

/// The first node with a reverse map.
fn mapped(n: &Node) -> Option<&Node> {
    if n.facts.owners.is_some() {
        return Some(n);
    }
    n.children.iter().find_map(mapped)
}

#[test]
fn the_zeroed_structure_scan_does_not_read_the_inode_tables_again() {
    let path = fixture("lost/dir-leaf.img");
    let opts = Options {
        image_path: path.clone(),
        ..Options::default()
    };
    let file = Arc::new(FileReader::open(&path).unwrap());
    let r = inspect_reader("disk", file, None, &opts).unwrap();
    let fs = mapped(&r.root).expect("the ext4 full check's reverse map");
    let map = fs.facts.owners.as_deref().unwrap();
    // What the scan has to decide: the table blocks of the 3,000 named
    // inodes (188 blocks) and the directory's ~40 blocks.
    let structure: u64 = map
        .ranges()
        .iter()
        .filter(|o| matches!(o.kind, OwnerKind::InodeTable | OwnerKind::Directory))
        .map(|o| o.len)
        .sum();
    assert!(structure > 200 * 4096, "{structure} bytes of structure");

    let disk = Logged {
        inner: FileReader::open(&path).unwrap(),
        log: Mutex::default(),
    };
    let zeroed = zeroed_structure_blocks(&r.root, &disk, &mut StructureBudget::default());
    let log = disk.log.lock().unwrap().clone();
    let bytes: u64 = log.iter().map(|(_, n)| n).sum();
    // The blocks the layer did not read whole: at most the table's last,
    // partly used block of each group with inodes in use.
    assert!(
        bytes <= 4 * 4096,
        "the scan read {bytes} bytes in {} reads: {:?}",
        log.len(),
        &log[..log.len().min(8)]
    );
    // dir-leaf.tsv: the zeroed leaf is disk bytes 9388032..9392128.
    assert!(
        zeroed
            .iter()
            .any(|&(a, b)| a <= 9_388_032 && 9_392_128 <= b),
        "the zeroed directory leaf is not found: {zeroed:?}"
    );
    // And the report tells it as a loss, as before.
    assert!(
        r.lost
            .iter()
            .any(|e| e.start <= 9_388_032 && 9_392_128 <= e.end),
        "{:?}",
        r.lost
    );
}
