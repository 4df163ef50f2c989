//! The full check's progress on a terminal: one line on stderr, rewritten
//! in place at most ten times a second and cleared before the report is
//! printed. With a ticker the line also shows the time elapsed and keeps
//! counting while a layer reads for a long time without reporting (one
//! large image: a person sees the check is alive). Nothing at all when
//! stderr is not a terminal, so pipes, logs and `--json` consumers see
//! exactly what they saw before.

use imgcheck_core::Progress;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time between two redraws of the line.
const REDRAW: Duration = Duration::from_millis(100);

/// Time between two ticks of the elapsed time.
pub const TICK: Duration = Duration::from_secs(1);

struct State {
    out: Box<dyn Write + Send>,
    last: Option<Instant>,
    shown: bool,
    /// When the line was made: the elapsed time counts from here.
    started: Instant,
    /// The last stage reported, redrawn by the ticker.
    stage: Option<(String, u64, u64)>,
    /// The line shows the elapsed time (a ticker runs).
    ticking: bool,
    /// The check is over: the ticker stops.
    stopped: bool,
    /// A layer's report was drawn (the ones after it are rate-limited).
    reported: bool,
}

impl State {
    /// Draws the line now.
    fn draw(&mut self, now: Instant) {
        self.last = Some(now);
        self.shown = true;
        let what = match &self.stage {
            Some((stage, done, total)) => render(stage, *done, *total),
            None => "checking".to_string(),
        };
        let text = if self.ticking {
            format!(
                "\r\x1b[Kimgcheck: {what} · {}",
                elapsed(now.duration_since(self.started))
            )
        } else {
            format!("\r\x1b[Kimgcheck: {what}")
        };
        // A terminal that cannot be written to only loses the line.
        let _ = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush());
    }
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
            started: Instant::now(),
            stage: None,
            ticking: false,
            stopped: false,
            reported: false,
        })))
    }

    /// This line with a ticker: drawn at once (`checking`), then every
    /// `every` with the time elapsed, whether or not a layer reported, so
    /// a long read of one image never looks like a hang. The thread holds
    /// the line weakly and ends at [`Line::clear`] or when the line is
    /// dropped.
    #[must_use]
    pub fn ticking(self, every: Duration) -> Line {
        let weak = Arc::downgrade(&self.0);
        if let Ok(mut s) = self.0.lock() {
            s.ticking = true;
            s.draw(Instant::now());
        }
        let spawned = std::thread::Builder::new()
            .name("imgcheck-tick".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(every);
                    let Some(state) = weak.upgrade() else { return };
                    let Ok(mut s) = state.lock() else { return };
                    if s.stopped {
                        return;
                    }
                    s.draw(Instant::now());
                }
            });
        // No thread, no ticks: the reports still draw the line.
        drop(spawned);
        self
    }

    /// The receiver layers report to. The first report is drawn at once,
    /// later ones when [`REDRAW`] has passed since the last drawing.
    pub fn progress(&self) -> Progress {
        let state = Arc::clone(&self.0);
        Progress::new(move |stage, done, total| {
            let Ok(mut s) = state.lock() else { return };
            let now = Instant::now();
            match &mut s.stage {
                Some((st, d, t)) if st == stage => (*d, *t) = (done, total),
                _ => s.stage = Some((stage.to_string(), done, total)),
            }
            // The first report is drawn at once even just after the
            // ticker's first `checking`: a quick check still shows its stage.
            if s.reported && s.last.is_some_and(|t| now.duration_since(t) < REDRAW) {
                return;
            }
            s.reported = true;
            s.draw(now);
        })
    }

    /// Erases the line if one was drawn, so the report starts clean, and
    /// stops the ticker: the check is over.
    pub fn clear(&self) {
        let Ok(mut s) = self.0.lock() else { return };
        s.stopped = true;
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

/// `7 s`, `2 min 05 s`, `1 h 02 min`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (
        s.checked_div(3600).unwrap_or(0),
        s.checked_div(60)
            .and_then(|m| m.checked_rem(60))
            .unwrap_or(0),
        s.checked_rem(60).unwrap_or(0),
    );
    if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{sec} s")
    }
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
    fn ticker_counts_without_reports_and_stops_at_clear() {
        let buf = Buf::default();
        let line = Line::to(Box::new(buf.clone())).ticking(Duration::from_millis(20));
        // Drawn at once, before any layer reported.
        let first = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            first.starts_with("\r\x1b[Kimgcheck: checking · 0 s"),
            "{first:?}"
        );
        line.progress().report("pass 1: inodes", 5, 10);
        // The first report is drawn at once, not held back by the tick.
        let now = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            now.contains("pass 1: inodes 5 of 10 (50%) · 0 s"),
            "{now:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        // The ticker redrew the last stage with the time, many times.
        let ticks = text.matches("pass 1: inodes 5 of 10 (50%) · 0 s").count();
        assert!(ticks >= 3, "{ticks} ticks: {text:?}");
        line.clear();
        let cleared = buf.0.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(buf.0.lock().unwrap().len(), cleared, "ticked after clear");
        assert!(
            String::from_utf8(buf.0.lock().unwrap().clone())
                .unwrap()
                .ends_with("\r\x1b[K")
        );
    }

    #[test]
    fn elapsed_reads_as_a_person_says_it() {
        assert_eq!(elapsed(Duration::from_secs(7)), "7 s");
        assert_eq!(elapsed(Duration::from_secs(125)), "2 min 05 s");
        assert_eq!(elapsed(Duration::from_secs(3720)), "1 h 02 min");
    }

    #[test]
    fn render_bounds_the_percentage() {
        assert_eq!(render("s", 5, 0), "s 5 of 0 (100%)");
        assert_eq!(render("s", 9, 3), "s 9 of 3 (100%)");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(999), "999");
    }
}
