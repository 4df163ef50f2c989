//! Structures that could not be read: each is reported where it lies,
//! and the checks that would otherwise call it absent ("no GPT header",
//! "no protective MBR", "all free") hold back, since unknown is not absent.

use crate::header::EntriesUnread;
use crate::tables::Tables;
use imgcheck_core::Finding;

/// One finding per unreadable area, and one for the stale-backup search's
/// failed probes (counted, since a bad region can fail thousands).
pub(super) fn unreadable_findings(t: &Tables, out: &mut Vec<Finding>) {
    out.extend(t.unreadable.iter().map(|u| u.finding()));
    if let Some(s) = &t.backup_search
        && let Some(first) = &s.first_unreadable
        && !t.unreadable_at(first.offset, first.len)
    {
        let mut f = first.finding();
        f.message.push_str(&format!(
            "; the search for a stale backup GPT header could not read {} of the {} places it probed (this is the first), so a backup there is not ruled out",
            s.unreadable, s.probes
        ));
        out.push(f);
    }
}

/// Whether a read where a GPT header belongs failed: LBA 1, or any LBA the
/// backup was looked for at.
pub(super) fn gpt_header_unreadable(t: &Tables) -> bool {
    let ss = t.sector.bytes;
    t.unreadable_at(ss, ss)
        || t.backup_searched
            .iter()
            .any(|&lba| t.unreadable_at(lba.saturating_mul(ss), ss))
}

/// Whether the partition list is unknown because the entry array it would
/// come from could not be read.
pub(super) fn entries_unreadable(t: &Tables) -> bool {
    t.entries().is_none()
        && [t.primary.as_ref(), t.backup.as_ref()]
            .into_iter()
            .flatten()
            .any(|c| c.entries_unread == Some(EntriesUnread::Unreadable))
}
