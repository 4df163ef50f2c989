//! Compressed clusters. QEMU stores only a sector-rounded length, so the
//! stream is decoded until the cluster buffer is full and whatever follows
//! it in the last sector is ignored.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
use std::io::Read;

/// Decodes `input` into `out` (exactly one cluster) with the image's
/// `compression_type` (0 raw deflate, 1 zstd).
pub fn decompress_cluster(
    input: &[u8],
    out: &mut [u8],
    compression_type: u8,
) -> Result<(), String> {
    match compression_type {
        0 => inflate_raw(input, out),
        1 => unzstd(input, out),
        t => Err(format!("unknown compression type {t}")),
    }
}

fn inflate_raw(input: &[u8], out: &mut [u8]) -> Result<(), String> {
    let mut d = Box::<DecompressorOxide>::default();
    let (status, _, produced) = decompress(
        &mut d,
        input,
        out,
        0,
        inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
    );
    match status {
        // QEMU accepts a stream that fills the cluster, ended or not.
        TINFLStatus::Done | TINFLStatus::HasMoreOutput if produced == out.len() => Ok(()),
        TINFLStatus::Done => Err(format!(
            "deflate stream ended after {produced} of {} bytes",
            out.len()
        )),
        s => Err(format!(
            "deflate stream is invalid ({s:?}) after {produced} bytes"
        )),
    }
}

fn unzstd(input: &[u8], out: &mut [u8]) -> Result<(), String> {
    let mut filled = 0usize;
    let mut rest = input;
    // QEMU decodes frames one after another until the cluster is full;
    // every round consumes at least one frame header, so rounds are bounded
    // by the input length.
    while filled < out.len() {
        if rest.is_empty() {
            return Err(format!(
                "zstd data ended after {filled} of {} bytes",
                out.len()
            ));
        }
        let before = rest.len();
        let mut dec =
            ruzstd::decoding::StreamingDecoder::new_with_max_window_size(&mut rest, 8 << 20)
                .map_err(|e| format!("zstd frame header invalid after {filled} bytes: {e}"))?;
        let dst = out.get_mut(filled..).unwrap_or(&mut []);
        let mut got = 0usize;
        while let Some(slot) = dst.get_mut(got..) {
            if slot.is_empty() {
                break;
            }
            match dec.read(slot) {
                Ok(0) => break,
                Ok(n) => got = got.saturating_add(n),
                Err(e) => {
                    return Err(format!(
                        "zstd data invalid after {} bytes: {e}",
                        filled.saturating_add(got)
                    ));
                }
            }
        }
        drop(dec);
        filled = filled.saturating_add(got);
        if got == 0 && rest.len() == before {
            return Err(format!("zstd data makes no progress after {filled} bytes"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = vec![0u8; 4096];
        assert!(decompress_cluster(&[0xff; 100], &mut out, 0).is_err());
        assert!(decompress_cluster(&[0xff; 100], &mut out, 1).is_err());
        assert!(decompress_cluster(&[], &mut out, 1).is_err());
        assert!(decompress_cluster(&[1, 2], &mut out, 7).is_err());
    }

    #[test]
    fn raw_deflate_with_trailing_garbage_decodes() {
        let data: Vec<u8> = (0..4096u32)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let mut c = miniz_oxide::deflate::compress_to_vec(&data, 6);
        c.extend_from_slice(&[0xaa; 300]);
        let mut out = vec![0u8; 4096];
        decompress_cluster(&c, &mut out, 0).unwrap();
        assert_eq!(out, data);
        // Short stream: an error.
        let mut big = vec![0u8; 8192];
        assert!(decompress_cluster(&c, &mut big, 0).is_err());
    }
}
