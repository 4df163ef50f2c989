//! How far a long check has got, for a terminal line: a layer reports
//! (stage, done, total) as it goes; the embedder decides whether and how
//! to show it. The default reports nowhere, so a layer never has to ask.

use std::fmt;
use std::sync::Arc;

/// What a layer calls with `(stage, done, total)`.
type Report = dyn Fn(&str, u64, u64) + Send + Sync;

/// A progress receiver, shared by every layer of one image. Cloning is
/// cheap; [`Progress::default`] discards every report.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<Report>>);

impl Progress {
    /// Progress reported to `f(stage, done, total)`. `f` is called often
    /// (a layer does not throttle): it should be cheap and rate-limit any
    /// output itself.
    pub fn new(f: impl Fn(&str, u64, u64) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(f)))
    }

    /// Reports that `stage` has done `done` of `total` units.
    pub fn report(&self, stage: &str, done: u64, total: u64) {
        if let Some(f) = &self.0 {
            f(stage, done, total);
        }
    }

    /// Whether anyone listens (a layer may skip counting otherwise).
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_on() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reports_reach_the_receiver_and_default_discards() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let p = Progress::new(move |stage, d, t| s.lock().unwrap().push((stage.to_string(), d, t)));
        assert!(p.is_on());
        p.clone().report("pass 1", 3, 10);
        assert_eq!(*seen.lock().unwrap(), vec![("pass 1".to_string(), 3, 10)]);
        let off = Progress::default();
        assert!(!off.is_on());
        off.report("pass 1", 1, 2);
        assert_eq!(format!("{off:?}"), "Progress(off)");
    }
}
