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
    /// Whether it blames its brick for anything.
    pub fn blames(&self) -> bool {
        self.data != 0 || self.metadata != 0 || self.entry != 0
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
    /// The clients this copy blames.
    pub fn blamed(&self) -> Vec<&str> {
        self.pending
            .iter()
            .filter(|p| p.blames() && p.client != "dirty")
            .map(|p| p.client.as_str())
            .collect()
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
/// the bricks of one volume carry: the one name a brick lacks. A brick
/// that lacks none or several stays unnamed.
pub fn identify(bricks: &mut [&mut Brick]) {
    let names = |b: &Brick| -> Vec<String> {
        b.pending
            .iter()
            .filter(|p| p.client != "dirty")
            .map(|p| p.client.clone())
            .collect()
    };
    let all: std::collections::BTreeSet<(Option<String>, String)> = bricks
        .iter()
        .flat_map(|b| names(b).into_iter().map(|n| (b.volume.clone(), n)))
        .collect();
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
