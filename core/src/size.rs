//! Sizes in findings' messages and report titles, one way everywhere.

/// `67108864` → `64 MiB`, `1610612736` → `1.5 GiB`, `512` → `512 bytes`.
/// One decimal, rounded down, so a size never reads larger than it is;
/// exact bytes belong in the message beside it where they matter.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut unit = 0usize;
    let mut whole = bytes;
    let mut rem = 0u64;
    while whole >= 1024 && unit < UNITS.len().saturating_sub(1) {
        rem = whole % 1024;
        whole /= 1024;
        unit = unit.saturating_add(1);
    }
    let name = UNITS.get(unit).copied().unwrap_or("bytes");
    if rem == 0 || unit == 0 {
        format!("{whole} {name}")
    } else {
        format!("{whole}.{} {name}", rem.saturating_mul(10) / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(1536 << 20), "1.5 GiB");
        assert_eq!(human_size((1007 << 10) + 512), "1007.5 KiB");
        assert_eq!(human_size(u64::MAX), "15.9 EiB");
    }
}
