//! The allocation summary line qemu-img check prints, as an info finding.

use super::CheckReport;
use super::findings::Sink;
use imgcheck_core::Severity;

pub(super) fn stats_finding(sink: &mut Sink, r: &CheckReport) {
    // Hundredths of a percent in integers: no float casts needed.
    let pct = |n: u64, d: u64| {
        // Rounded like printf's %0.2f in qemu-img's summary line.
        let v = n
            .saturating_mul(10_000)
            .saturating_add(d >> 1)
            .checked_div(d)
            .unwrap_or(0);
        format!(
            "{}.{:02}",
            v.checked_div(100).unwrap_or(0),
            v.checked_rem(100).unwrap_or(0)
        )
    };
    let msg = format!(
        "{}/{} = {}% allocated, {}% fragmented, {}% compressed clusters; image end offset {}; file length {}",
        r.allocated_clusters,
        r.total_clusters,
        pct(r.allocated_clusters, r.total_clusters),
        pct(r.fragmented_clusters, r.allocated_clusters),
        pct(r.compressed_clusters, r.allocated_clusters),
        r.image_end_offset,
        r.file_length
    );
    sink.push(Severity::Info, "qcow2.stats", 0, msg);
}
