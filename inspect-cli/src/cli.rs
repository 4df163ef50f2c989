//! Command-line contract: arguments, exit status (fsck-style bits OR-ed
//! across images), and which view goes to stdout.

use crate::batch;
use crate::host::HostRoom;
use crate::options::Options;
use crate::pipeline;
use crate::render;
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Exit bits, as fsck(8).
pub use crate::exit;

pub use crate::options::Format;

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
4 damage found (also damage that stops an image from opening), 8 operational error (a file missing, unreadable, or not a regular file or block device; a directory with no images), 16 usage error.\n\
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

    /// Check only the metadata proportional to the number of groups and
    /// tables (superblocks, descriptors, bitmaps' checksums, journal,
    /// qcow2 tables), not every inode, directory, extent and cluster: the
    /// full check, as e2fsck -fn and qemu-img check do, is the default.
    #[arg(long)]
    quick: bool,

    /// The full check, which is the default (accepted for scripts written
    /// when it was not).
    #[arg(long, conflicts_with = "quick")]
    deep: bool,

    /// Read the whole disk for the zero map (all-zero ranges and what they
    /// destroyed), not only the first 16 MiB of the disk and of each
    /// partition; holes of a sparse file and unallocated qcow2 clusters are
    /// skipped without reading.
    #[arg(long)]
    scan: bool,

    /// The free space beside the image: `measure` (statvfs, the default),
    /// `off`, or `FREE/TOTAL` (e.g. `1G/100G`) for a report that does not
    /// depend on the machine running it.
    #[arg(long, value_name = "HOW", default_value = "measure", value_parser = HostRoom::parse)]
    host_room: HostRoom,

    /// Inspect the disk as of this qcow2 internal snapshot (id or name).
    #[arg(long, value_name = "NAME")]
    snapshot: Option<String>,

    /// Inspect every qcow2 internal snapshot too, each like the current
    /// state, so you know before reverting whether a snapshot is sound.
    #[arg(long, conflicts_with = "snapshot")]
    all_snapshots: bool,

    /// For a qcow2 image, print exactly `qemu-img check --output=json`'s
    /// keys and exit with qemu-img check's codes.
    #[arg(long)]
    qemu_compat: bool,

    /// Colour the text report.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    color: ColorWhen,

    /// Draw the disk to scale as an SVG picture (one image only).
    #[arg(long, value_name = "FILE.svg")]
    map: Option<PathBuf>,

    /// Write the files that lost data (zeroed ranges mapped through each
    /// filesystem's block maps) to FILE: one per line, the path, a tab,
    /// then its lost disk byte ranges `START-END` (a logical volume's
    /// bytes for a file in an LV, named after the path). With several
    /// images (the PVs of one VG), each image's files follow a line
    /// `# IMAGE`. FILE may not be one of the images.
    #[arg(long, value_name = "FILE")]
    lost_files: Option<std::path::PathBuf>,

    /// Write the run as a Prometheus textfile to FILE (node_exporter's
    /// textfile collector format: per image the verdict, findings by
    /// severity and layer, sizes, free space beside it, snapshots, bytes
    /// read and seconds per layer), atomically: a temporary file beside
    /// FILE, then a rename. FILE may not be an image of the run.
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,

    /// Check this many images at once (default: one per CPU).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

/// Parses the arguments, checks every image, prints, and returns the exit status.
pub fn run() -> u8 {
    // `imgcheck compare …` is a command of its own (an image named
    // `compare` is reached as `./compare`).
    // File names are bytes: args_os, since std::env::args panics on a
    // name that is not UTF-8 (clap reads the image paths as OsStrings).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if argv.first().is_some_and(|a| a == "compare") {
        // compare names its copies as text (PATH@SNAPSHOT): a name that is
        // not UTF-8 is refused by name, never read as another file.
        let copies: Result<Vec<String>, _> = argv
            .iter()
            .skip(1)
            .map(|a| a.clone().into_string())
            .collect();
        return match copies {
            Ok(c) => crate::compare::run(&c),
            Err(bad) => {
                eprintln!(
                    "imgcheck compare: {} is not a UTF-8 name; compare reads PATH@SNAPSHOT as text: give the copy a UTF-8 name (a symlink will do)",
                    bad.to_string_lossy()
                );
                exit::USAGE
            }
        };
    }
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

    let mut items = batch::expand(&args.images);
    if args.all_snapshots {
        items = batch::with_snapshots(items);
    }
    if args.map.is_some() && items.len() != 1 {
        eprintln!(
            "imgcheck: --map draws one image; {} were given",
            items.len()
        );
        return exit::USAGE;
    }
    if let Some(lf) = &args.lost_files {
        // Never a write to the image inspected, whatever the spelling: a
        // hard link is another name of the same inode (an attack's
        // `--lost-files` on `ln v.img hard.img` left v.img 0 bytes when
        // only the paths were compared).
        if items.iter().any(|i| crate::metrics::same_file(&i.path, lf)) {
            eprintln!("imgcheck: --lost-files names the image itself; refusing to write to it");
            return exit::USAGE;
        }
    }
    if let Some(m) = &args.metrics
        && items.iter().any(|i| crate::metrics::same_file(&i.path, m))
    {
        eprintln!("imgcheck: --metrics names an image of the run; refusing to write to it");
        return exit::USAGE;
    }
    if args.qemu_compat {
        let mut status = exit::CLEAN;
        let mut stdout = std::io::stdout().lock();
        for item in &items {
            if let Some(f) = &item.fatal {
                eprintln!("{}", f.line(&item.path));
                status = 1;
                continue;
            }
            status = qemu_compat(
                &item.path,
                args.format,
                &options(&args, &item.path),
                &mut stdout,
            );
        }
        return status;
    }

    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let siblings = batch::small_siblings(&items);
    // PVs of one VG may be spread over the images given: one pool for the
    // run, so each VG is assembled from all of them.
    let pool = std::sync::Arc::new(crate::pool::Pool::with_snapshots(
        items
            .iter()
            .map(|i| {
                (
                    i.path.clone(),
                    i.snapshot.clone().or_else(|| args.snapshot.clone()),
                )
            })
            .collect(),
    ));
    let layers = crate::pool::PooledLayers::new(pool);
    let registry = layers.registry();
    let progress = progress_bar(items.len());
    // One image: the full check's own progress on the terminal (several
    // images have the bar instead).
    let line = if items.len() == 1 {
        crate::progress::Line::on_terminal()
    } else {
        None
    };
    let mut status = exit::CLEAN;
    let mut rows: Vec<render::SummaryRow> = Vec::new();
    let mut metric_rows: Vec<crate::metrics::Row> = Vec::new();
    let mut stdout = anstream::stdout().lock();
    let mut broken_pipe = false;
    // The lost files of every image, written once all are checked: a VG's
    // LVs (and what they lost) are reported with its first PV only.
    let mut lost_text = String::new();
    batch::run_all(
        &items,
        jobs,
        |i, item| {
            let mut opts = options(&args, &item.path);
            // Threads the images leave unused go to the partitions and
            // volumes inside each (one image and --jobs 2: two filesystems
            // at once).
            opts.jobs = jobs.checked_div(items.len()).unwrap_or(1).max(1);
            if item.snapshot.is_some() {
                opts.snapshot.clone_from(&item.snapshot);
            }
            if let Some(f) = &item.fatal {
                progress.inc(1);
                return Err(f.clone());
            }
            if let Some(l) = &line {
                opts.progress = l.progress();
            }
            let sibling = siblings.get(i).and_then(Option::as_ref);
            let r = crate::api::check(&registry, &item.path, args.format, sibling, &opts);
            if let Some(l) = &line {
                l.clear();
            }
            progress.inc(1);
            r
        },
        |item, result| match result {
            Ok(report) => {
                for n in &item.notes {
                    progress.suspend(|| eprintln!("imgcheck: {}: {n}", item.path.display()));
                }
                status |= report.verdict().exit_bits();
                if let Some(map) = &args.map
                    && let Err(e) = std::fs::write(map, crate::svg::svg(&report))
                {
                    progress.suspend(|| {
                        eprintln!("imgcheck: {}: cannot write map: {e}", map.display())
                    });
                    status |= exit::OPERATIONAL;
                }
                if args.lost_files.is_some() && !report.lost.is_empty() {
                    if items.len() > 1 {
                        lost_text.push_str(&format!("# {}\n", item.path.display()));
                    }
                    lost_text.push_str(&crate::layout::lost_files_text(&report.lost));
                }
                if args.metrics.is_some() {
                    let room = args.host_room.room(&item.path);
                    metric_rows.push(crate::metrics::Row::of(&report, room));
                }
                rows.push(render::SummaryRow::of(&report));
                let text = if args.json {
                    render::json_line(&report)
                } else {
                    render::text(&report)
                };
                let out = progress.suspend(|| {
                    stdout
                        .write_all(text.as_bytes())
                        .and_then(|()| stdout.flush())
                });
                broken_pipe |= out.is_err();
            }
            Err(fatal) => {
                status |= exit::OPERATIONAL;
                rows.push(render::SummaryRow::failed(&item.path, &fatal));
                metric_rows.push(crate::metrics::Row::failed(
                    &item.path.display().to_string(),
                ));
                progress.suspend(|| eprintln!("{}", fatal.line(&item.path)));
                // One JSON object per image, failed ones too.
                if args.json {
                    let name = match &item.snapshot {
                        Some(s) => format!("{}@{s}", item.path.display()),
                        None => item.path.display().to_string(),
                    };
                    let line = render::error_line(&name, &fatal);
                    let out = progress.suspend(|| {
                        stdout
                            .write_all(line.as_bytes())
                            .and_then(|()| stdout.flush())
                    });
                    broken_pipe |= out.is_err();
                }
            }
        },
    );
    progress.finish_and_clear();
    // Written as the metrics are, through a new file renamed over the
    // name: an existing file under that name is replaced, never truncated
    // in place, so no other name of its inode loses its bytes.
    let images: Vec<&std::path::Path> = items.iter().map(|i| i.path.as_path()).collect();
    if let Some(lf) = &args.lost_files
        && imgcheck_core::opened_by_this_process(lf)
    {
        // A file the run read that no argument named: a qcow2's backing
        // or external data file. The rename would unlink its name.
        eprintln!(
            "imgcheck: --lost-files names {}, a file this run read (a backing or data file of an image); refusing to write to it",
            lf.display()
        );
        status |= exit::USAGE;
    } else if let Some(lf) = &args.lost_files
        && let Err(e) = crate::metrics::write_atomic(
            lf,
            &lost_text,
            &images,
            crate::metrics::looks_like_lost_list,
        )
    {
        eprintln!(
            "imgcheck: {}: cannot write the lost files: {e}",
            lf.display()
        );
        status |= exit::OPERATIONAL;
    }
    if !args.json && rows.len() > 1 {
        let table = render::summary_table(&rows);
        broken_pipe |= stdout.write_all(table.as_bytes()).is_err();
    }
    if let Some(m) = &args.metrics {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let images: Vec<&std::path::Path> = items.iter().map(|i| i.path.as_path()).collect();
        let text = crate::metrics::text(&metric_rows, now);
        if let Err(e) =
            crate::metrics::write_atomic(m, &text, &images, crate::metrics::looks_like_metrics)
        {
            eprintln!("imgcheck: {}: cannot write the metrics: {e}", m.display());
            status |= exit::OPERATIONAL;
        }
    }
    if broken_pipe {
        status |= exit::OPERATIONAL;
    }
    status
}

fn options(args: &Args, path: &std::path::Path) -> Options {
    Options {
        quick: args.quick && !args.deep,
        scan: args.scan,
        snapshot: args.snapshot.clone(),
        image_path: path.to_path_buf(),
        progress: imgcheck_core::Progress::default(),
        host: args.host_room,
        jobs: 1,
    }
}

/// A bar on stderr only when stderr is a terminal and there is more than
/// one image; hidden otherwise, so pipes and CI logs stay clean.
fn progress_bar(n: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if n < 2 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(u64::try_from(n).unwrap_or(u64::MAX));
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images {elapsed}")
    {
        bar.set_style(style);
    }
    bar
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
        // qemu-img's messages name the file themselves ("Could not open
        // 'x': …"); the others get it once, in front.
        Err((message, code)) => {
            let name = path.display().to_string();
            if message.contains(&name) {
                eprintln!("qemu-img-compat: {message}");
            } else {
                eprintln!("qemu-img-compat: {name}: {message}");
            }
            code
        }
    }
}
