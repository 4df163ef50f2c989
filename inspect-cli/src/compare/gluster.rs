//! GlusterFS replicas: the AFR extended attributes on a brick's copy of a
//! file (`trusted.afr.VOL-client-N`: data, metadata and entry operations
//! pending on brick N, as three big-endian 32-bit counters;
//! `trusted.gfid`), read without writing anything. Brick N blamed by the
//! others' copies missed writes; two copies that each blame a brick the
//! other does not are in split-brain, which Gluster will not heal alone.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Attribute names read at most from one file (a brick file has a handful).
const MAX_NAMES: usize = 256;
/// Parent directories searched at most for the brick root.
const MAX_UP: usize = 64;

/// One `trusted.afr.*` attribute of a brick file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The client it names (`vol-client-1`), or `dirty`.
    pub client: String,
    /// Data operations pending on that brick.
    pub data: u32,
    /// Metadata operations pending.
    pub metadata: u32,
    /// Entry operations pending.
    pub entry: u32,
}

impl Pending {
    /// Whether it blames its brick for data: writes to the file's bytes
    /// the brick missed. Only the first of the three counters is that;
    /// a metadata count (owner, mode, xattrs) or an entry count says
    /// nothing of the image's bytes (an attack's F10 read a metadata-only
    /// count as data blame).
    pub fn blames(&self) -> bool {
        self.data != 0
    }

    /// Whether it blames its brick for metadata or entry operations only.
    pub fn blames_metadata_only(&self) -> bool {
        self.data == 0 && (self.metadata != 0 || self.entry != 0)
    }
}

/// What the brick's attributes say about one copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brick {
    /// `trusted.gfid` in hex: the same file on every brick has the same.
    pub gfid: Option<String>,
    /// Every `trusted.afr.*` attribute.
    pub pending: Vec<Pending>,
    /// The brick directory (the nearest parent carrying
    /// `trusted.glusterfs.volume-id`), when found.
    pub root: Option<PathBuf>,
    /// The volume, from the attribute names (`VOL-client-N`).
    pub volume: Option<String>,
    /// The file's path inside the volume (from the brick root).
    pub file: Option<String>,
    /// Which client of the volume this brick is (`vol-client-1`), when
    /// the copies tell: AFR keeps a `trusted.afr.VOL-client-N` for every
    /// other brick of the replica set and none for itself (its own
    /// pending state is `trusted.afr.dirty`), so the one name among all
    /// the copies' names that a copy lacks is its own.
    pub client: Option<String>,
}

impl Brick {
    /// The clients this copy blames for data.
    pub fn blamed(&self) -> Vec<&str> {
        self.pending
            .iter()
            .filter(|p| p.blames() && p.client != "dirty")
            .map(|p| p.client.as_str())
            .collect()
    }

    /// The clients this copy blames for metadata or entries only.
    pub fn blamed_metadata_only(&self) -> Vec<&str> {
        self.pending
            .iter()
            .filter(|p| p.blames_metadata_only() && p.client != "dirty")
            .map(|p| p.client.as_str())
            .collect()
    }

    /// Its own data operations pending (`trusted.afr.dirty`'s first
    /// counter): a write it began and did not see end, which AFR counts
    /// as a witness when it breaks ties between sources.
    pub fn dirty(&self) -> u32 {
        self.pending
            .iter()
            .find(|p| p.client == "dirty")
            .map_or(0, |p| p.data)
    }

    /// The data count it keeps against `client`.
    fn count_for(&self, client: &str) -> u32 {
        self.pending
            .iter()
            .find(|p| p.client == client)
            .map_or(0, |p| p.data)
    }
}

/// Clients of one replica set at most (Gluster's replica counts are small).
const MAX_CLIENTS: usize = 64;

/// What Gluster's self-heal makes of the copies' data changelogs, as
/// `afr_selfheal_find_direction` and `__afr_selfheal_data_finalize_source`
/// (xlators/cluster/afr, glusterfs 4.1 and later) decide it:
/// - a brick some other brick blames is no source; the rest are;
/// - when every brick is blamed, a data heal under client quorum (`auto`,
///   the default from three bricks up) takes as sources the bricks that
///   fewer than a quorum (n/2 + 1) blame ("post-op failure
///   accounting": a blame cycle of three is no split-brain); with no
///   quorum (`none`, the default for two bricks) it is split-brain;
/// - several sources whose sizes or dirty counts differ are narrowed to
///   the largest file, then the most dirty, then the newest ctime;
///   several that agree in both are taken to be in sync and none is
///   healed from another;
/// - every brick that is not a source is a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direction {
    /// The replica set's clients (`vol-client-0` ...), sorted.
    pub clients: Vec<String>,
    /// For each client, the index of the copy that is its brick, when given.
    pub copy_of: Vec<Option<usize>>,
    /// The sources, as indices into `clients`.
    pub sources: Vec<usize>,
    /// The sinks (every client that is not a source), as indices into `clients`.
    pub sinks: Vec<usize>,
    /// No source: Gluster will not heal the file by itself.
    pub split_brain: bool,
    /// Every brick is blamed, so the sources are those client quorum's
    /// accounting leaves (`by_quorum`); without client quorum this is
    /// split-brain instead.
    pub by_quorum: bool,
    /// How several sources were narrowed (`the largest file`), when they were.
    pub narrowed_by: Option<&'static str>,
    /// Several sources remain that ctime alone would tell apart, which
    /// the images do not record: Gluster picks the newest by ctime.
    pub ctime_decides: bool,
    /// Some client's brick is not among the copies: its changelog is not
    /// known and was taken as blaming none.
    pub incomplete: bool,
    /// No data operation is pending anywhere (every data count and dirty
    /// count zero): AFR takes the copies to be in sync and its index heal
    /// never visits the file, whatever their bytes.
    pub clean: bool,
    /// Which copy is which client was not told by the names: several
    /// assignments fit, and all of them give every copy this part; the
    /// client names are one of those assignments.
    pub clients_assumed: bool,
    /// The names fit several assignments of clients to the copies that
    /// give them different parts: nothing is decided.
    pub undecided: bool,
    /// Clients whose brick file holds 0 bytes while another brick's holds
    /// data: a replica 3 arbiter 1's arbiter (metadata and xattrs only),
    /// or a file an entry heal created and no data heal filled. Their
    /// blame counts as any brick's; they are no data source (Gluster's
    /// size comparison skips a 0-byte arbiter, `__afr_selfheal_data`
    /// heals no data from an arbiter, and a heal from an empty data brick
    /// would truncate the others) and no copy of the data.
    pub empty: Vec<usize>,
    /// The changelog's only sources hold 0 bytes: Gluster heals no data
    /// from an arbiter, so the file stays pending, and nothing names a
    /// source.
    pub empty_source: bool,
}

/// One copy on a brick as [`direction`] reads it: its attributes and
/// its file's size.
pub struct OnBrick<'a> {
    /// The copy's index among all the copies.
    pub copy: usize,
    /// Its AFR attributes.
    pub brick: &'a Brick,
    /// The brick file's size in bytes.
    pub size: u64,
}

/// Gluster's data self-heal direction over the copies of one file on one
/// volume; `None` when some copy's own client is not known (the names do
/// not tell it) or the set is too large to be a replica set.
pub fn direction(on: &[OnBrick<'_>]) -> Option<Direction> {
    if on.iter().all(|o| o.brick.client.is_some()) {
        return direction_known(on);
    }
    if let Some(d) = direction_by_assignment(on) {
        return Some(d);
    }
    // Names that do not tell which brick is which client, in ways that
    // disagree: the changelog decides nothing, and a pair's own blame is
    // no stand-in for it (an attack's F4 got the stale brick as source).
    let named = on
        .iter()
        .any(|o| o.brick.pending.iter().any(|p| p.client != "dirty"));
    (on.len() >= 2 && named).then(|| Direction {
        clients: Vec::new(),
        copy_of: on.iter().map(|o| Some(o.copy)).collect(),
        sources: Vec::new(),
        sinks: Vec::new(),
        split_brain: false,
        by_quorum: false,
        narrowed_by: None,
        ctime_decides: false,
        incomplete: false,
        clean: false,
        clients_assumed: false,
        undecided: true,
        empty: Vec::new(),
        empty_source: false,
    })
}

/// Bricks given at most for [`direction_by_assignment`]'s enumeration.
const MAX_ASSIGNED: usize = 6;

/// [`direction`] when the names do not tell every brick's client (AFRv2
/// creates `trusted.afr.VOL-client-N` only for a brick it blamed, so a
/// brick never blamed by another carries none, and a brick that blamed
/// two carries both others' names): every way of giving the copies
/// distinct clients of `VOL-client-0..r` is tried, the plausible ones
/// first, and the direction is taken only when every such way gives each
/// copy the same part (source, sink, split-brain). Otherwise the
/// changelog says nothing certain. Plausible: no brick carries its own
/// client's counter unless it carries every client's. AFRv2 keeps its
/// own pending count in `trusted.afr.dirty` and never names itself;
/// AFRv1 (and a volume upgraded from it) keeps a counter for every brick
/// on every brick, its own among them, and a non-zero own counter is a
/// self-accusation that afr_selfheal_find_direction treats specially
/// (attackB F17: before, a way where the self-blaming brick blamed none
/// of itself was preferred, and its witness was never counted).
fn direction_by_assignment(on: &[OnBrick<'_>]) -> Option<Direction> {
    let n = on.len();
    if !(2..=MAX_ASSIGNED).contains(&n) {
        return None;
    }
    let vol = on.iter().find_map(|o| o.brick.volume.clone())?;
    if on
        .iter()
        .any(|o| o.brick.volume.as_ref().is_some_and(|v| *v != vol))
    {
        return None;
    }
    let prefix = format!("{vol}-client-");
    let mut top = 0usize;
    for o in on {
        for p in o.brick.pending.iter().filter(|p| p.client != "dirty") {
            let k: usize = p.client.strip_prefix(&prefix)?.parse().ok()?;
            top = top.max(k.saturating_add(1));
        }
    }
    let r = top.max(n);
    if r > MAX_ASSIGNED {
        return None;
    }
    let names: Vec<String> = (0..r).map(|k| format!("{prefix}{k}")).collect();
    let mut pick: Vec<usize> = Vec::new();
    let mut found: Vec<(bool, Direction)> = Vec::new();
    assign(on, &names, &mut pick, &mut found);
    let clean_ways: Vec<&Direction> = found.iter().filter(|(f, _)| !*f).map(|(_, d)| d).collect();
    let ways: Vec<&Direction> = if clean_ways.is_empty() {
        found.iter().map(|(_, d)| d).collect()
    } else {
        clean_ways
    };
    let part = |d: &Direction| {
        let per: Vec<(bool, bool)> = (0..n).map(|k| (d.is_source(k), d.is_sink(k))).collect();
        (
            per,
            d.split_brain,
            d.by_quorum,
            d.ctime_decides,
            d.clean,
            d.incomplete,
        )
    };
    let first = ways.first()?;
    if ways.iter().all(|d| part(d) == part(first)) {
        let mut d = (*first).clone();
        d.clients_assumed = ways.len() > 1;
        Some(d)
    } else {
        None
    }
}

/// Every injective assignment of `names` to the copies of `on` (in
/// order), each with its direction and whether a copy blames its own
/// client in it.
fn assign(
    on: &[OnBrick<'_>],
    names: &[String],
    pick: &mut Vec<usize>,
    found: &mut Vec<(bool, Direction)>,
) {
    if pick.len() == on.len() {
        let bricks: Vec<Brick> = on
            .iter()
            .zip(pick.iter())
            .map(|(o, &k)| Brick {
                client: names.get(k).cloned(),
                ..o.brick.clone()
            })
            .collect();
        let fool = bricks.iter().any(|b| {
            b.client.as_deref().is_some_and(|c| {
                b.pending.iter().any(|p| p.client == c)
                    && !names
                        .iter()
                        .all(|n| b.pending.iter().any(|p| p.client == *n))
            })
        });
        let with: Vec<OnBrick<'_>> = on
            .iter()
            .zip(&bricks)
            .map(|(o, b)| OnBrick {
                copy: o.copy,
                brick: b,
                size: o.size,
            })
            .collect();
        if let Some(mut d) = direction_known(&with) {
            // Clients no copy was given stay known by name only.
            for name in names {
                if !d.clients.contains(name) {
                    d.clients.push(name.clone());
                    d.copy_of.push(None);
                    // A brick not given, whose changelog nobody knows.
                    d.incomplete = true;
                }
            }
            found.push((fool, d));
        }
        return;
    }
    for k in 0..names.len() {
        if !pick.contains(&k) {
            pick.push(k);
            assign(on, names, pick, found);
            pick.pop();
        }
    }
}

/// [`direction`] with every copy's client known.
fn direction_known(on: &[OnBrick<'_>]) -> Option<Direction> {
    // One file of one volume: copies of two volumes or two files (their
    // gfids differ) are not one replica set.
    // A brick that carries no AFR name has no volume name either: set
    // against the first volume named, not the first copy's (given first,
    // a brick with no names made the others "another volume").
    let first = on.first()?;
    let vol = on.iter().find_map(|o| o.brick.volume.as_ref());
    if on.iter().any(|o| {
        o.brick.volume.is_some() && o.brick.volume.as_ref() != vol
            || o.brick.gfid != first.brick.gfid
    }) {
        return None;
    }
    let mut clients: Vec<String> = Vec::new();
    for o in on {
        clients.push(o.brick.client.clone()?);
        for p in &o.brick.pending {
            if p.client != "dirty" {
                clients.push(p.client.clone());
            }
        }
    }
    clients.sort();
    clients.dedup();
    let n = clients.len();
    if !(2..=MAX_CLIENTS).contains(&n) {
        return None;
    }
    // Each client's copy, as a place in `on`.
    let at: Vec<Option<usize>> = clients
        .iter()
        .map(|c| {
            on.iter()
                .position(|o| o.brick.client.as_deref() == Some(c.as_str()))
        })
        .collect();
    // Two copies claiming one client: not one replica set.
    if on.len() != at.iter().flatten().count() {
        return None;
    }
    let copy_of: Vec<Option<usize>> = at
        .iter()
        .map(|k| k.and_then(|k| on.get(k)).map(|o| o.copy))
        .collect();
    let row = |i: usize| at.get(i).copied().flatten().and_then(|k| on.get(k));
    let m = |i: usize, j: usize| match (row(i), clients.get(j)) {
        (Some(o), Some(c)) if i != j => o.brick.count_for(c),
        _ => 0,
    };
    // A brick that blames itself (AFRv1's own-name counter) is a "fool":
    // its accusations of others do not count, and it is not accused by
    // itself either (afr_selfheal_find_direction's self_accused[]).
    let own = |i: usize| match (row(i), clients.get(i)) {
        (Some(o), Some(c)) => o.brick.count_for(c),
        _ => 0,
    };
    let fool = |i: usize| own(i) != 0;
    let clean = (0..n).all(|i| {
        (0..n).all(|j| m(i, j) == 0) && own(i) == 0 && row(i).is_none_or(|o| o.brick.dirty() == 0)
    });
    // Writes each brick witnessed, as find_direction counts them to break
    // ties between sources: its dirty count; for a self-accused brick also
    // what it holds against the others, and its own count when no brick
    // has pending operations on another or it has some itself.
    let pending = |i: usize| (0..n).any(|j| m(i, j) != 0);
    let any_pending = (0..n).any(pending);
    let witness = |i: usize| -> u64 {
        let mut w = u64::from(row(i).map_or(0, |o| o.brick.dirty()));
        if fool(i) {
            for j in 0..n {
                w = w.saturating_add(u64::from(m(i, j)));
            }
            if !any_pending || pending(i) {
                w = w.saturating_add(u64::from(own(i)));
            }
        }
        w
    };
    // 0-byte brick files beside ones that hold data.
    let any_data = (0..n).any(|i| row(i).is_some_and(|o| o.size > 0));
    let empty: Vec<usize> = (0..n)
        .filter(|&i| any_data && row(i).is_some_and(|o| o.size == 0))
        .collect();
    let accused: Vec<usize> = (0..n)
        .map(|j| (0..n).filter(|&i| m(i, j) != 0 && !fool(i)).count())
        .collect();
    let mut sources: Vec<usize> = (0..n).filter(|&i| accused.get(i) == Some(&0)).collect();
    let mut by_quorum = false;
    if sources.is_empty() && n > 2 {
        let quorum = quorum(n);
        sources = (0..n)
            .filter(|&i| accused.get(i).is_some_and(|&a| a < quorum))
            .collect();
        by_quorum = !sources.is_empty();
    }
    let split_brain = sources.is_empty();
    let mut narrowed_by = None;
    let mut ctime_decides = false;
    if sources.len() > 1 && !clean {
        let size = |i: usize| row(i).map(|o| o.size);
        // afr_does_size_mismatch skips a 0-byte arbiter.
        let sizes: Vec<Option<u64>> = sources
            .iter()
            .filter(|i| !empty.contains(i))
            .map(|&i| size(i))
            .collect();
        let mismatch = sizes.iter().any(|s| *s != sizes.first().copied().flatten())
            || sizes.iter().any(Option::is_none);
        let witnessed = sources.iter().any(|&i| witness(i) != 0);
        if mismatch || witnessed {
            let big = sources.iter().filter_map(|&i| size(i)).max().unwrap_or(0);
            let before = sources.len();
            sources.retain(|&i| size(i).is_none_or(|s| s >= big));
            if sources.len() < before {
                narrowed_by = Some("the largest file");
            }
            let most = sources.iter().map(|&i| witness(i)).max().unwrap_or(0);
            let before = sources.len();
            sources.retain(|&i| witness(i) >= most);
            if sources.len() < before && narrowed_by.is_none() {
                narrowed_by = Some(
                    "the most writes it witnessed (trusted.afr.dirty, or its own counter when it blames itself)",
                );
            }
            // The newest ctime picks one of what is left; the images do
            // not record Gluster's ctime, so which one is not said.
            ctime_decides = sources.len() > 1;
        }
    }
    // An arbiter left among data sources is none of them: the data heal
    // reads from a brick that holds data. When only 0-byte files are
    // left, Gluster heals no data at all.
    let mut empty_source = false;
    if !sources.is_empty() {
        if sources.iter().all(|i| empty.contains(i)) {
            empty_source = true;
            ctime_decides = false;
        } else {
            sources.retain(|i| !empty.contains(i));
            ctime_decides = ctime_decides && sources.len() > 1;
        }
    }
    let sinks = (0..n).filter(|i| !sources.contains(i)).collect();
    Some(Direction {
        incomplete: copy_of.iter().any(Option::is_none),
        clients,
        copy_of,
        sources,
        sinks,
        split_brain,
        by_quorum,
        narrowed_by,
        ctime_decides,
        clean,
        clients_assumed: false,
        undecided: false,
        empty,
        empty_source,
    })
}

/// AFR's `auto` client quorum for `n` bricks: more than half.
pub fn quorum(n: usize) -> usize {
    (n / 2).saturating_add(1)
}

impl Direction {
    /// Whether copy `k` is a source.
    pub fn is_source(&self, k: usize) -> bool {
        self.sources
            .iter()
            .any(|&i| self.copy_of.get(i).copied().flatten() == Some(k))
    }

    /// Whether copy `k` is a sink.
    pub fn is_sink(&self, k: usize) -> bool {
        self.sinks
            .iter()
            .any(|&i| self.copy_of.get(i).copied().flatten() == Some(k))
    }

    /// Whether the heal's source is settled by the changelog and sizes
    /// alone: one source, not left by client quorum's accounting (which
    /// depends on the volume's quorum setting, not on the images).
    pub fn settled(&self) -> bool {
        self.sources.len() == 1
            && !self.by_quorum
            && !self.incomplete
            && !self.clean
            && !self.undecided
            && !self.empty_source
    }
}

/// Reads the AFR attributes of `path`; `None` when it carries none (not
/// on a brick, or attributes not readable: trusted.* needs root).
pub fn read(path: &Path) -> Option<Brick> {
    let names = list(path)?;
    let mut b = Brick::default();
    for n in names.iter().take(MAX_NAMES) {
        if n == "trusted.gfid" {
            b.gfid = get(path, n).map(|v| hex(&v));
        } else if let Some(client) = n.strip_prefix("trusted.afr.") {
            let v = get(path, n).unwrap_or_default();
            let word = |i: usize| {
                v.get(i..i.saturating_add(4))
                    .and_then(|s| <[u8; 4]>::try_from(s).ok())
                    .map_or(0, u32::from_be_bytes)
            };
            if b.volume.is_none()
                && let Some((vol, _)) = client.rsplit_once("-client-")
            {
                b.volume = Some(vol.to_string());
            }
            b.pending.push(Pending {
                client: client.to_string(),
                data: word(0),
                metadata: word(4),
                entry: word(8),
            });
        }
    }
    if b.gfid.is_none() && b.pending.is_empty() {
        return None;
    }
    b.pending.sort_by(|x, y| x.client.cmp(&y.client));
    let abs = std::fs::canonicalize(path).ok()?;
    let mut dir = abs.parent();
    for _ in 0..MAX_UP {
        let Some(d) = dir else { break };
        if get(d, "trusted.glusterfs.volume-id").is_some() {
            b.root = Some(d.to_path_buf());
            b.file = abs
                .strip_prefix(d)
                .ok()
                .map(|r| format!("/{}", r.display()));
            break;
        }
        dir = d.parent();
    }
    Some(b)
}

fn list(path: &Path) -> Option<Vec<String>> {
    let mut buf = vec![0u8; 64 << 10];
    let n = rustix::fs::listxattr(path, &mut buf[..]).ok()?;
    let bytes = buf.get(..n)?;
    Some(
        bytes
            .split(|&c| c == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}

fn get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::getxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

/// Names each brick's own client ([`Brick::client`]) from the names all
/// the bricks of one volume carry: the one name a brick lacks. The names
/// a volume may hold are `VOL-client-0` up to the highest carried or the
/// number of its bricks given (a brick carrying no name counted in by
/// its gfid), whichever is more: a brick no other has
/// blamed carries no name for itself anywhere (attackA A5: three bricks
/// carrying only client-0 and client-1 made two of them client-1). A
/// brick that lacks none or several stays unnamed, and so do two that
/// would get one name.
pub fn identify(bricks: &mut [&mut Brick]) {
    let names = |b: &Brick| -> Vec<String> {
        b.pending
            .iter()
            .filter(|p| p.client != "dirty")
            .map(|p| p.client.clone())
            .collect()
    };
    let mut all: std::collections::BTreeSet<(Option<String>, String)> = bricks
        .iter()
        .flat_map(|b| names(b).into_iter().map(|n| (b.volume.clone(), n)))
        .collect();
    let volumes: std::collections::BTreeSet<Option<String>> =
        bricks.iter().map(|b| b.volume.clone()).collect();
    for vol in volumes.iter().filter_map(|v| v.as_ref()) {
        let prefix = format!("{vol}-client-");
        // A brick that carries no name has no volume name either; one
        // holding the same file (gfid) is a brick of this volume too.
        let gfids: Vec<&String> = bricks
            .iter()
            .filter(|b| b.volume.as_ref() == Some(vol))
            .filter_map(|b| b.gfid.as_ref())
            .collect();
        let given = bricks
            .iter()
            .filter(|b| {
                b.volume.as_ref() == Some(vol)
                    || b.volume.is_none() && b.gfid.as_ref().is_some_and(|g| gfids.contains(&g))
            })
            .count();
        let mut top = 0usize;
        let mut parsed = true;
        for (_, n) in all.iter().filter(|(v, _)| v.as_ref() == Some(vol)) {
            match n
                .strip_prefix(&prefix)
                .and_then(|k| k.parse::<usize>().ok())
            {
                Some(k) => top = top.max(k.saturating_add(1)),
                None => parsed = false,
            }
        }
        let r = top.max(given);
        if parsed && r <= MAX_CLIENTS {
            for k in 0..r {
                all.insert((Some(vol.clone()), format!("{prefix}{k}")));
            }
        }
    }
    for b in bricks.iter_mut() {
        let own = names(b);
        let missing: Vec<&String> = all
            .iter()
            .filter(|(v, n)| *v == b.volume && !own.contains(n))
            .map(|(_, n)| n)
            .collect();
        b.client = match missing.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        };
    }
    let taken: Vec<(Option<String>, Option<String>)> = bricks
        .iter()
        .map(|b| (b.volume.clone(), b.client.clone()))
        .collect();
    for b in bricks.iter_mut() {
        let twice = b.client.is_some()
            && taken
                .iter()
                .filter(|(v, c)| *v == b.volume && *c == b.client)
                .count()
                > 1;
        if twice {
            b.client = None;
        }
    }
}

/// Whether `a` blames `b` itself, when both bricks' clients are known.
fn blames_brick(a: &Brick, b: &Brick) -> Option<bool> {
    let me = b.client.as_deref()?;
    a.client.as_ref()?;
    Some(a.blamed().contains(&me))
}

/// What two bricks' attributes say of each other: `Some(true)` when each
/// blames the other (split-brain), `Some(false)` when some blame is
/// pending but not both ways, `None` when neither blames any brick. When
/// each brick's client is known ([`identify`]), blame of a third brick
/// is not blame of the other (a replica 3 whose copies each blame
/// another brick is no split-brain between them: an attack's F2); else
/// each blaming a brick the other does not is taken as split-brain.
pub fn split_brain(a: &Brick, b: &Brick) -> Option<bool> {
    if a.blamed().is_empty() && b.blamed().is_empty() {
        return None;
    }
    if let (Some(x), Some(y)) = (blames_brick(a, b), blames_brick(b, a)) {
        return Some(x && y);
    }
    let (ba, bb) = (a.blamed(), b.blamed());
    match (ba.is_empty(), bb.is_empty()) {
        (true, true) => None,
        (false, false) => {
            Some(ba.iter().any(|x| !bb.contains(x)) && bb.iter().any(|x| !ba.contains(x)))
        }
        _ => Some(false),
    }
}

/// Which copy alone blames the other: `Some(true)` when `a` blames `b`
/// (by `b`'s client when known, else any brick while `b` blames none)
/// and not the other way round, `Some(false)` the other way round,
/// `None` when neither or both blame. The one that blames recorded writes
/// the blamed brick missed: it is the source self-heal copies from.
pub fn one_sided(a: &Brick, b: &Brick) -> Option<bool> {
    // Known clients: which blames the other itself, whatever else each
    // blames.
    if let (Some(x), Some(y)) = (blames_brick(a, b), blames_brick(b, a)) {
        return match (x, y) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        };
    }
    match (a.blamed().is_empty(), b.blamed().is_empty()) {
        (false, true) => Some(true),
        (true, false) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::arithmetic_side_effects,
        clippy::as_conversions,
        clippy::indexing_slicing,
        clippy::unwrap_used
    )]
    use super::*;

    fn brick(blames: &[&str]) -> Brick {
        Brick {
            pending: blames
                .iter()
                .map(|c| Pending {
                    client: (*c).into(),
                    data: 2,
                    metadata: 0,
                    entry: 0,
                })
                .collect(),
            ..Brick::default()
        }
    }

    #[test]
    fn each_blaming_the_other_is_split_brain() {
        let a = brick(&["v-client-1"]);
        let b = brick(&["v-client-0"]);
        assert_eq!(split_brain(&a, &b), Some(true));
        assert_eq!(split_brain(&a, &brick(&[])), Some(false));
        assert_eq!(split_brain(&brick(&[]), &brick(&[])), None);
        assert_eq!(split_brain(&a, &a.clone()), Some(false));
        assert_eq!(one_sided(&a, &brick(&[])), Some(true));
        assert_eq!(one_sided(&brick(&[]), &b), Some(false));
        assert_eq!(one_sided(&a, &b), None);
    }
}
