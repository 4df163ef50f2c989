//! XFS as an [`Inspector`]: the filesystem's node, its facts (size, which
//! superblock it was read through, where its superblocks and AG headers
//! are, its UUID, a dirty log as pending work) and its timestamps.

use crate::level::{self, Level};
use imgcheck_core::{
    Context, Event, Identity, IdentityKind, Inspected, Inspector, Probe, ReadAt, Strength,
    SuperblockUse, human_size,
};
use imgcheck_xfs::{LogState, Options, Summary, SuperblockSource};
use std::sync::Arc;

/// The XFS layer.
pub struct Xfs;

impl Inspector for Xfs {
    fn name(&self) -> &'static str {
        "xfs"
    }

    /// A primary superblock that passes xfs_repair's rules is a filesystem.
    /// One with the magic and a known version but failing a rule (a bad
    /// CRC, a fuzzed field) is still this layer's, not the signature
    /// layer's: the check reads it through a secondary and says what is
    /// wrong, where identifying it would only name it.
    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::Contents {
            return None;
        }
        Some(match imgcheck_xfs::probe_superblock(r) {
            Some(true) => Probe::new(Strength::Structure, "XFS superblock at byte 0"),
            Some(false) => Probe::new(
                Strength::Structure,
                "XFS superblock magic and version at byte 0, the superblock failing its checks",
            ),
            // The primary superblock destroyed, AG 0's headers left: still
            // this layer's, read through a secondary as xfs_repair reads it.
            None if imgcheck_xfs::probe_headers(r) => Probe::new(
                Strength::Structure,
                "XFS AGF and AGI of AG 0 in sectors 1 and 2, no superblock at byte 0",
            ),
            None => return None,
        })
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
        let report = imgcheck_xfs::check(
            r.as_ref(),
            &Options {
                depth: cx.options.depth,
            },
        );
        let Some(s) = report.summary else {
            let mut node = Inspected::new("xfs", "no usable superblock");
            node.findings = report.findings;
            return node;
        };
        let mut node = Inspected::new("xfs", title(&s));
        node.facts.owners = report.owners.map(Arc::new);
        node.findings = report.findings;
        node.details = serde_json::to_value(&s).unwrap_or(serde_json::Value::Null);
        node.events = s
            .times
            .iter()
            .map(|t| Event::new(t.time, t.what.clone()))
            .collect();
        node.facts.claimed_size = Some(s.fs_bytes);
        node.facts.sector_size = Some(s.sector_size);
        node.facts.structures.clone_from(&s.structures);
        node.facts.superblock = Some(match s.superblock {
            SuperblockSource::Primary => SuperblockUse {
                offset: 0,
                backup: false,
                group: None,
                block_size: s.block_size,
            },
            SuperblockSource::Secondary { ag, offset } => {
                // Read through a secondary: what sits where the primary was?
                node.facts.overwritten_by =
                    imgcheck_gpt::image_signature(r.as_ref()).map(str::to_string);
                SuperblockUse {
                    offset,
                    backup: true,
                    group: Some(u64::from(ag)),
                    block_size: s.block_size,
                }
            }
        });
        node.facts.identities.push(Identity {
            kind: IdentityKind::FilesystemUuid,
            value: s.uuid.clone(),
        });
        node.facts.files = Some(super::files::xfs(r, &s.uuid, s.label.clone()));
        node.facts.pending.clone_from(&s.pending);
        node.facts.incomplete.clone_from(&s.incomplete);
        node
    }
}

fn title(s: &Summary) -> String {
    let bs = if s.block_size >= 1024 && s.block_size.is_multiple_of(1024) {
        format!("{} KiB blocks", s.block_size >> 10)
    } else {
        format!("{}-byte blocks", s.block_size)
    };
    let mut t = format!(
        "XFS v{}, {bs}, {}, {} AGs",
        s.version,
        human_size(s.fs_bytes),
        s.agcount
    );
    if s.dblocks > 0 && s.fdblocks <= s.dblocks {
        let pct = s
            .fdblocks
            .saturating_mul(100)
            .checked_div(s.dblocks)
            .unwrap_or(0);
        t.push_str(&format!(", {pct}% free"));
    }
    if let Some(label) = &s.label {
        t.push_str(&format!(", label \"{label}\""));
    }
    match s.log.state {
        LogState::Dirty => t.push_str(", log dirty (needs recovery)"),
        LogState::External => t.push_str(", external log (not checked)"),
        _ => {}
    }
    if let SuperblockSource::Secondary { ag, .. } = s.superblock {
        t.push_str(&format!(", using the superblock of AG {ag}"));
    }
    t
}
