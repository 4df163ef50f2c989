//! Typed facts: what one layer tells the checks that span layers (the
//! size chain, the zero and overwrite maps, the boot chain, the timeline,
//! next steps, compare). The JSON `details` of a node are a view for
//! people; nothing reads them back. A check that needs something a layer
//! knows gets a field here, so renaming a JSON key can never switch a
//! check off.
//!
//! Offsets are in the space of the reader the layer was given; the
//! pipeline moves them into disk space with the child's extent.

use crate::hint::Hint;
use serde::{Deserialize, Serialize};

/// Everything a layer states about what it read. Every field is optional
/// or empty by default: a layer fills what it knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// How many bytes of its reader the layer's contents claim, from
    /// byte 0: a filesystem's blocks × block size, a PV's device size, a
    /// qcow2 image's virtual size. A link of the size chain.
    pub claimed_size: Option<u64>,
    /// The disk size a partition table was written for (GPT: the backup
    /// header's LBA + 1 sectors). `None` where the format records none (an
    /// MBR): its trailing space is free space, not growth.
    pub written_for: Option<u64>,
    /// The logical sector size the layer found or assumed.
    pub sector_size: Option<u64>,
    /// Facts of a partition table.
    pub table: Option<TableFacts>,
    /// Structures at fixed places, with their backups: what a zeroed or
    /// overwritten range destroyed and which copy survives.
    pub structures: Vec<Structure>,
    /// Which superblock a filesystem was read through.
    pub superblock: Option<SuperblockUse>,
    /// Whether the guest disk a container hands out can be read faithfully.
    pub guest: Option<GuestDisk>,
    /// Internal snapshots of a container.
    pub snapshots: Vec<SnapshotFact>,
    /// Identifiers that tell whether two copies are the same disk.
    pub identities: Vec<Identity>,
    /// Work the layer found pending (a journal to replay, an orphan list)
    /// that recovery will complete.
    pub pending: Vec<String>,
    /// The layer stopped at a bound before checking everything.
    pub incomplete: Option<String>,
    /// What a foreign image left at the start of the reader, when the
    /// layer found its own structures only further in (an ext4 read
    /// through a backup superblock in a partition that now starts with a
    /// disk image's partition table), as the signature module names it.
    pub overwritten_by: Option<String>,
    /// The boot-relevant files a filesystem holds (see
    /// [`crate::boot_paths`]), for the boot chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boot_files: Vec<crate::BootFile>,
    /// A filesystem's files by path, for checks that follow a loader's
    /// references (GRUB's prefix, grub.cfg's kernels). Not serialised: a
    /// live view of the volume, not a fact about it.
    #[serde(skip)]
    pub files: Option<crate::Files>,
    /// For a node a parent made for one of its children (a partition):
    /// what the parent promised it holds (its type), so checks that span
    /// layers (the boot chain: which partition is the ESP, which the BIOS
    /// boot partition) need not read the table's details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised: Option<Expect>,
    /// A filesystem's reverse map (which structure or file owns each
    /// range, offsets in the layer's reader), from its full check: the
    /// zero and overwrite maps name lost files through it. Not in JSON
    /// (it can be large); the checks that use it report what it names.
    #[serde(skip)]
    pub owners: Option<std::sync::Arc<crate::OwnerMap>>,
    /// Byte ranges of the volumes a layer hands out whose data is in no
    /// input (an LV's extents on a missing PV): the loss map names the
    /// files that had data there through the volume's filesystem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_losses: Vec<VolumeLoss>,
    /// Where the volumes a layer hands out keep their bytes in this
    /// node's reader (an LV's linear extents on this PV): what maps a
    /// zeroed range of the disk to the volume's bytes, and through the
    /// volume's filesystem to its files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_extents: Vec<VolumeExtent>,
    /// Counters that only grow as the layer is written (an ext4 journal's
    /// next transaction sequence, an LVM VG's metadata seqno), named: what
    /// `compare` dates two copies of one disk by, beside the timestamps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counters: Vec<(String, u64)>,
}

/// A range of a volume (a child the layer hands out, named by its
/// [`crate::Step::Volume`]) whose bytes no input holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeLoss {
    /// The volume, as its step names it (`vg/lv`).
    pub volume: String,
    /// First byte, in the volume's reader.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Where the bytes were, in words (`extents 4-7 on missing PV …`).
    pub why: String,
    /// An input given with the run holds zeros where that device's
    /// structures were (it was overwritten), so the bytes are destroyed,
    /// not merely absent.
    pub zeroed: bool,
}

/// A run of a volume's bytes stored contiguously in the reader of the
/// node whose facts hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeExtent {
    /// The volume, as its step names it (`vg/lv`).
    pub volume: String,
    /// First byte, in the volume's reader.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Where the run's first byte is, in the node's reader.
    pub at: u64,
}

/// A partition table's own facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFacts {
    /// `gpt`, `mbr`, `sun`, `bsd`, …
    pub scheme: String,
    /// Whether the Linux kernel would see the partitions (a GPT needs its
    /// protective MBR): `losetup --partscan` only helps then.
    pub kernel_sees_partitions: bool,
    /// The only table is a stale backup found by searching the disk: a
    /// tool that "repairs" it (`sgdisk -e`) would write an empty table.
    pub only_stale_backup: bool,
    /// Whether any copy of the table is intact.
    pub intact: bool,
    /// The MBR maps an ISO 9660 image from sector 0 (isohybrid): its
    /// sizes are the ISO's, not a disk's, so a shorter file is a sample or
    /// a cut-off download of the ISO, not a disk shrunk under its table.
    #[serde(default)]
    pub isohybrid: bool,
    /// An MBR's extended partition: the container its logical partitions
    /// (5 and up) lie in, which is no partition of its own in the layer
    /// tree. The first one only, as the logical partitions are read from
    /// it.
    #[serde(default)]
    pub extended: Option<ExtendedFact>,
    /// Where another disk image starts whose own GPT ends this disk (its
    /// backup header is in the last sector, written for a disk that ends
    /// here): the bytes from there on are that disk's, not space this
    /// disk's table failed to grow into, nor a victim's remnants.
    #[serde(default)]
    pub embedded_disk: Option<u64>,
    /// The logical sector size the table was read with, when it is not
    /// 512 bytes (a 4Kn disk). Tools run on the image file, and a loop
    /// device attached without `-b`, assume 512-byte sectors: sgdisk then
    /// finds no GPT and writes an empty one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_bytes: Option<u64>,
    /// Both 512- and 4096-byte sectors find support on the disk: a tool
    /// that writes the table picks one, and the wrong one writes a table
    /// over the other's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sector_ambiguous: bool,
}

/// An MBR extended partition's place on the disk, as its entry states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedFact {
    /// Its slot in the MBR (1 to 4), the number tools give it.
    pub slot: u32,
    /// First byte on the disk.
    pub start: u64,
    /// Bytes, as the entry claims (may run past a truncated disk).
    pub size: u64,
}

/// The role of a structure that has copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The copy tools read first; losing it is damage.
    #[default]
    Primary,
    /// A copy that can stand in for the primary.
    Backup,
}

/// A structure a layer expects at a place: a GPT header, an ext4
/// superblock or descriptor table, an LVM label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structure {
    /// What it is, in words (`primary GPT header`, `ext4 superblock`).
    pub name: String,
    /// First byte, in the layer's reader.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Primary or backup.
    pub role: Role,
}

impl Structure {
    /// A structure at `start..start+len`.
    pub fn new(name: impl Into<String>, start: u64, len: u64, role: Role) -> Self {
        Structure {
            name: name.into(),
            start,
            len,
            role,
        }
    }
}

/// Which superblock a filesystem was read through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuperblockUse {
    /// Byte offset of the superblock used, in the layer's reader.
    pub offset: u64,
    /// `true` when it is a backup (the primary was unusable).
    pub backup: bool,
    /// The group or allocation group the backup belongs to.
    pub group: Option<u64>,
    /// The filesystem's block size, for `e2fsck -b N -B SIZE`.
    pub block_size: u64,
}

/// Whether a container's guest disk reads as the guest would see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestDisk {
    /// `false`: what lies inside is not judged (a broken backing chain
    /// reads zeros where the base holds data; damage would be invented).
    pub readable: bool,
    /// Why not, in words.
    pub why_not: Option<String>,
    /// The guest disk's size in bytes.
    pub size: u64,
    /// How the guest disk becomes a block device for next steps, when it can.
    pub attach: Option<Attach>,
}

/// How a container's guest disk becomes a block device, so the
/// placeholders `{disk}` and `{dev}` of hints (see [`crate::Target`]) name
/// something a person can run the command on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    /// The read-only command that attaches it, `{image}` standing for the
    /// image file (`qemu-nbd --read-only --connect=/dev/nbd0 {image}`), with why.
    pub hint: Hint,
    /// The block device the whole disk appears as (`/dev/nbd0`). Partition
    /// `N` appears as this name, `p` and `N`, as Linux names the partitions
    /// of a device whose name ends in a digit.
    pub device: String,
    /// What stands for the whole disk in a command that acts on the disk
    /// alone, when the image file itself serves and nothing need be
    /// attached (`{image}` for a raw image: sgdisk and e2fsck take a file).
    /// `None`: the device. A command that also acts on a partition goes
    /// through the device throughout, so the two agree.
    pub file: Option<String>,
}

/// One internal snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFact {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The virtual disk size recorded with it.
    pub disk_size: Option<u64>,
    /// When it was taken (Unix seconds), when recorded.
    pub date: Option<i64>,
}

/// What an identifier identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// A GPT disk GUID.
    DiskGuid,
    /// An MBR disk signature.
    DiskSignature,
    /// A GPT partition's unique GUID.
    PartitionGuid,
    /// A filesystem UUID.
    FilesystemUuid,
    /// An LVM physical volume UUID.
    PvUuid,
    /// An LVM volume group UUID.
    VgUuid,
    /// An LVM logical volume UUID.
    LvUuid,
    /// A qcow2 backing file name.
    BackingFile,
}

/// An identifier found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// What it identifies.
    pub kind: IdentityKind,
    /// Its value as tools print it.
    pub value: String,
}

/// What a parent promises a child holds, from its type or surroundings
/// (a GPT "Linux filesystem" partition, an MBR type 0x8e). A promise that
/// no layer recognises is a finding: a destroyed filesystem is never silent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// The kind of contents promised.
    pub contents: Promise,
    /// The type as the parent names it (`Linux filesystem`, `0x83`).
    pub type_name: Option<String>,
}

/// Kinds of contents a partition type promises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Promise {
    /// Nothing known.
    #[default]
    Unknown,
    /// A filesystem of some kind.
    Filesystem,
    /// An EFI System Partition (FAT).
    EfiSystem,
    /// A BIOS boot partition (GRUB's core.img, no filesystem).
    BiosBoot,
    /// An LVM physical volume.
    Lvm,
    /// Swap space.
    Swap,
    /// Software RAID member.
    Raid,
    /// Encrypted (LUKS).
    Encrypted,
    /// A whole disk image file (the image given, or a logical volume of an
    /// oVirt block domain): a container (qcow2, raw) reads it.
    DiskImage,
    /// A whole disk (the guest disk a container hands out): a partition
    /// table reads it, or says there is none and hands the disk on whole.
    Disk,
    /// Deliberately empty or reserved.
    Empty,
}
