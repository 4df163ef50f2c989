//! Runs the consistency check on one image and prints qemu-img's JSON
//! (or the message qemu-img gives instead) and the findings: the qcow2
//! layer alone, for timing against `qemu-img check`. `--deep` decodes
//! every compressed cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let deep = args.iter().any(|a| a == "--deep");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("usage: check [--deep] IMAGE");
    let image = match imgcheck_qcow2::Image::open_path(path) {
        Ok(i) => i,
        Err(e) => {
            println!("open error (damage: {}): {e}", e.is_damage());
            std::process::exit(e.qemu_exit_code());
        }
    };
    let opts = imgcheck_qcow2::CheckOptions {
        deep,
        ..Default::default()
    };
    let report = imgcheck_qcow2::check(&image, &opts);
    match report.qemu_output(path) {
        Ok(j) => println!("{j}"),
        Err(m) => println!("qemu-img: {m}"),
    }
    for f in &report.findings {
        println!("{} {}: {}", f.severity, f.code, f.message);
    }
    std::process::exit(report.qemu_exit_code());
}
