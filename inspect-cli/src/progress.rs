//! The full check's progress on a terminal: one line on stderr, rewritten
//! in place at most ten times a second and cleared before the report is
//! printed. Nothing at all when stderr is not a terminal, so pipes, logs
//! and `--json` consumers see exactly what they saw before.

use imgcheck_core::Progress;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time between two redraws of the line.
const REDRAW: Duration = Duration::from_millis(100);

struct State {
    out: Box<dyn Write + Send>,
    last: Option<Instant>,
    shown: bool,
}

/// A progress line on one writer (stderr on a terminal).
#[derive(Clone)]
pub struct Line(Arc<Mutex<State>>);

impl Line {
    /// A line on stderr when stderr is a terminal; `None` otherwise.
    pub fn on_terminal() -> Option<Line> {
        use std::io::IsTerminal;
        std::io::stderr()
            .is_terminal()
            .then(|| Line::to(Box::new(std::io::stderr())))
    }

    /// A line on `out` (tests write to a buffer).
    pub fn to(out: Box<dyn Write + Send>) -> Line {
        Line(Arc::new(Mutex::new(State {
            out,
            last: None,
            shown: false,
        })))
    }

    /// The receiver layers report to. The first report is drawn at once,
    /// later ones when [`REDRAW`] has passed since the last drawing.
    pub fn progress(&self) -> Progress {
        let state = Arc::clone(&self.0);
        Progress::new(move |stage, done, total| {
            let Ok(mut s) = state.lock() else { return };
            let now = Instant::now();
            if s.last.is_some_and(|t| now.duration_since(t) < REDRAW) {
                return;
            }
            s.last = Some(now);
            s.shown = true;
            let text = format!("\r\x1b[Kimgcheck: {}", render(stage, done, total));
            // A terminal that cannot be written to only loses the line.
            let _ = s
                .out
                .write_all(text.as_bytes())
                .and_then(|()| s.out.flush());
        })
    }

    /// Erases the line if one was drawn, so the report starts clean.
    pub fn clear(&self) {
        let Ok(mut s) = self.0.lock() else { return };
        if s.shown {
            s.shown = false;
            s.last = None;
            let _ = s.out.write_all(b"\r\x1b[K").and_then(|()| s.out.flush());
        }
    }
}

/// `pass 1: inodes 1,200 of 200,000 (0%)`.
fn render(stage: &str, done: u64, total: u64) -> String {
    let pct = done
        .min(total)
        .saturating_mul(100)
        .checked_div(total)
        .unwrap_or(100);
    format!("{stage} {} of {} ({pct}%)", grouped(done), grouped(total))
}

/// 1234567 → "1,234,567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len().saturating_add(digits.len() / 3));
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len().saturating_sub(i)) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn first_report_drawn_then_rate_limited_then_cleared() {
        let buf = Buf::default();
        let line = Line::to(Box::new(buf.clone()));
        let p = line.progress();
        p.report("pass 1: inodes", 1200, 200_000);
        for i in 0..1000 {
            p.report("pass 1: inodes", 1200 + i, 200_000);
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "\r\x1b[Kimgcheck: pass 1: inodes 1,200 of 200,000 (0%)"
        );
        line.clear();
        line.clear();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("(0%)\r\x1b[K"), "{text:?}");
    }

    #[test]
    fn nothing_drawn_nothing_cleared() {
        let buf = Buf::default();
        Line::to(Box::new(buf.clone())).clear();
        assert!(buf.0.lock().unwrap().is_empty());
    }

    #[test]
    fn render_bounds_the_percentage() {
        assert_eq!(render("s", 5, 0), "s 5 of 0 (100%)");
        assert_eq!(render("s", 9, 3), "s 9 of 3 (100%)");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(999), "999");
    }
}
