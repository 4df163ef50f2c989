//! `imgcheck`: offline, read-only integrity and corruption forensics for
//! disk images — qcow2, MBR/GPT and ext4 in one report.

fn main() {
    std::process::exit(i32::from(imgcheck::cli::run()));
}
