//! Runs the consistency check on one image and prints qemu-img's JSON:
//! the qcow2 layer alone, for timing against `qemu-img check`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let path = std::env::args().nth(1).expect("usage: check IMAGE");
    let image = imgcheck_qcow2::Image::open_path(&path).unwrap();
    let report = imgcheck_qcow2::check(&image, &imgcheck_qcow2::CheckOptions::default());
    println!("{}", report.qemu_json(&path));
    for f in &report.findings {
        println!("{} {}: {}", f.severity, f.code, f.message);
    }
}
