//! Command-line contract: arguments, exit status (fsck-style bits OR-ed
//! across images), and which view goes to stdout.

use crate::layers::Options;
use crate::pipeline;
use crate::render;
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Exit bits, as fsck(8).
pub mod exit {
    /// No problem found.
    pub const CLEAN: u8 = 0;
    /// Warnings only.
    pub const WARNINGS: u8 = 1;
    /// Damage found (imgcheck never repairs, so it stays uncorrected).
    pub const DAMAGED: u8 = 4;
    /// Operational error: a file missing or unreadable.
    pub const OPERATIONAL: u8 = 8;
    /// Usage error.
    pub const USAGE: u8 = 16;
}

/// Container format override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A raw disk image (or a bare filesystem).
    Raw,
    /// A qcow2 image.
    Qcow2,
}

/// When to colour the text report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Parser)]
#[command(
    name = "imgcheck",
    version,
    about = "Offline, read-only integrity and corruption forensics for disk images (qcow2, MBR/GPT, ext4)",
    after_help = "Exit status (bits OR-ed across images, as fsck): 0 clean, 1 warnings only, \
4 damage found, 8 operational error (missing or unreadable file), 16 usage error.\n\
With --qemu-compat: qemu-img check's codes (0 clean, 1 check incomplete, 2 corruptions, 3 leaks only, 63 not checkable)."
)]
struct Args {
    /// Image files to check (raw or qcow2).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<PathBuf>,

    /// One JSON object per image on stdout (JSON Lines for several images).
    #[arg(long)]
    json: bool,

    /// Override format detection (qcow2 magic, else raw).
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// Walk every object (every inode, directory and extent), not only
    /// metadata proportional to the number of groups and tables.
    #[arg(long)]
    deep: bool,

    /// Inspect the disk as of this qcow2 internal snapshot (id or name).
    #[arg(long, value_name = "NAME")]
    snapshot: Option<String>,

    /// For a qcow2 image, print exactly `qemu-img check --output=json`'s
    /// keys and exit with qemu-img check's codes.
    #[arg(long)]
    qemu_compat: bool,

    /// Colour the text report.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    color: ColorWhen,
}

/// Parses the arguments, checks every image, prints, and returns the exit status.
pub fn run() -> u8 {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::CLEAN
            };
            // Printing help or an error can only fail on a closed stream,
            // and then there is nobody to tell.
            let _ = e.print();
            return code;
        }
    };
    let choice = match args.color {
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
        ColorWhen::Auto => anstream::ColorChoice::Auto,
    };
    choice.write_global();

    let mut status = exit::CLEAN;
    let mut stdout = anstream::stdout().lock();
    for path in &args.images {
        let opts = Options {
            deep: args.deep,
            snapshot: args.snapshot.clone(),
            image_path: path.clone(),
        };
        if args.qemu_compat {
            status |= qemu_compat(path, args.format, &opts, &mut stdout);
            continue;
        }
        match pipeline::inspect_image(path, args.format, &opts) {
            Ok(report) => {
                status |= report.verdict().exit_bits();
                let text = if args.json {
                    render::json_line(&report)
                } else {
                    render::text(&report)
                };
                if stdout.write_all(text.as_bytes()).is_err() {
                    return status | exit::OPERATIONAL;
                }
            }
            Err(fatal) => {
                status |= exit::OPERATIONAL;
                let _ = stdout.flush();
                eprintln!("imgcheck: {}: {fatal}", path.display());
            }
        }
    }
    let _ = stdout.flush();
    status
}

/// `--qemu-compat`: qemu-img check's JSON and exit codes; the last image's
/// code wins when several are given (qemu-img takes one).
fn qemu_compat(
    path: &std::path::Path,
    format: Option<Format>,
    opts: &Options,
    out: &mut impl Write,
) -> u8 {
    match pipeline::qemu_compat(path, format, opts) {
        Ok((json, code)) => {
            let line = format!("{json}\n");
            if out.write_all(line.as_bytes()).is_err() {
                return 1;
            }
            code
        }
        Err((message, code)) => {
            eprintln!("qemu-img-compat: {}: {message}", path.display());
            code
        }
    }
}
