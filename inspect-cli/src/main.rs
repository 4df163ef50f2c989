//! `imgcheck`: offline, read-only integrity and corruption forensics for
//! disk images — qcow2, MBR/GPT and ext4 in one report.

mod batch;
mod cli;
mod layers;
mod layout;
mod pipeline;
mod render;
mod report;
mod svg;
mod time;

fn main() {
    std::process::exit(i32::from(cli::run()));
}
