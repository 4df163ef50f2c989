//! Long file names assembled from their slots, with the state machine of
//! dosfstools' `lfn.c`, so the same sequences are called broken: a slot
//! outside a sequence, a new name starting inside an unfinished one, a
//! wrong sequence number, a checksum that differs between slots or from
//! the short name, leftover slots with no short entry (orphans), and the
//! two fields that must be zero.

use crate::dir::{LfnSlot, RawEntry, utf16_until_nul};

/// Code units per slot.
const UNITS: usize = 13;

/// What was wrong with a long name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LfnProblem {
    /// Slots with no short entry after them (fsck.fat deletes them).
    Orphan {
        /// The name parts collected.
        text: String,
    },
    /// A first slot (0x40) while another name was unfinished.
    NewWithinOld,
    /// A slot that is not a first slot, with no name in progress.
    Fragment {
        /// Its characters.
        text: String,
    },
    /// A sequence number other than the one expected.
    Sequence {
        /// The number found.
        got: u8,
        /// The number expected (-1: none).
        expected: i32,
    },
    /// A slot whose checksum differs from the first slot's.
    PartChecksum {
        /// Found.
        got: u8,
        /// The first slot's.
        expected: u8,
    },
    /// `LDIR_Type` is not 0 (fsck.fat sets it to 0).
    Reserved(u8),
    /// `LDIR_FstClusLO` is not 0 (fsck.fat sets it to 0).
    StartCluster(u16),
    /// The short entry came before the name's slot 1.
    Unfinished {
        /// The parts collected.
        text: String,
        /// The short name it stopped at.
        short: String,
    },
    /// The slots' checksum is not the short name's: the long name
    /// belongs to another short name (Linux shows the short name only).
    Checksum {
        /// The long name.
        text: String,
        /// The short name.
        short: String,
    },
}

impl LfnProblem {
    /// Whether fsck.fat -n queues a change for it (so its exit code is 1);
    /// the others it only prints.
    pub fn fsck_fixes(&self) -> bool {
        matches!(
            self,
            LfnProblem::Orphan { .. } | LfnProblem::Reserved(_) | LfnProblem::StartCluster(_)
        )
    }
}

/// A problem and the byte offset of the slot it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfnEvent {
    /// Byte offset of the slot (or the first slot of the name).
    pub offset: u64,
    /// What is wrong.
    pub problem: LfnProblem,
}

/// A long name attached to a short entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongName {
    /// The name.
    pub name: String,
    /// Byte offset of its first slot.
    pub offset: u64,
    /// Whether Linux would use it: every slot consistent and the checksum
    /// the short name's (fsck.fat -n keeps a name whose checksum is wrong).
    pub valid: bool,
}

/// The parser's state within one directory.
#[derive(Debug, Clone)]
pub struct LfnState {
    /// The next sequence number expected; -1: no name in progress; 0: a
    /// complete name waiting for its short entry.
    slot: i32,
    checksum: u8,
    units: Vec<u16>,
    offsets: Vec<u64>,
    clean: bool,
}

impl Default for LfnState {
    fn default() -> Self {
        LfnState::new()
    }
}

impl LfnState {
    /// No name in progress.
    pub fn new() -> Self {
        LfnState {
            slot: -1,
            checksum: 0,
            units: Vec::new(),
            offsets: Vec::new(),
            clean: true,
        }
    }

    /// Forgets the name in progress (a new directory).
    pub fn reset(&mut self) {
        self.slot = -1;
        self.units.clear();
        self.offsets.clear();
        self.clean = true;
    }

    /// The parts collected so far (fsck.fat's `CNV_PARTS_SO_FAR`).
    fn so_far(&self) -> String {
        let from = usize::try_from(self.slot.max(0))
            .unwrap_or(0)
            .saturating_mul(UNITS);
        let n = self.offsets.len().saturating_mul(UNITS);
        let part = self
            .units
            .get(from..from.saturating_add(n).min(self.units.len()))
            .unwrap_or(&[]);
        utf16_until_nul(part)
    }

    /// A free entry, or the end of the directory: slots collected and not
    /// yet attached to a short entry are orphans.
    pub fn check_orphaned(&mut self, out: &mut Vec<LfnEvent>) {
        if self.slot == -1 {
            return;
        }
        out.push(LfnEvent {
            offset: self.offsets.first().copied().unwrap_or(0),
            problem: LfnProblem::Orphan {
                text: self.so_far(),
            },
        });
        self.reset();
    }

    /// A long-name slot at byte `at`.
    pub fn add_slot(&mut self, s: &LfnSlot, at: u64, out: &mut Vec<LfnEvent>) {
        let slot = i32::from(s.seq());
        if self.slot == 0 {
            self.check_orphaned(out);
        }
        if s.is_last() && slot != 0 {
            if self.slot != -1 {
                out.push(LfnEvent {
                    offset: at,
                    problem: LfnProblem::NewWithinOld,
                });
            }
            self.slot = slot;
            self.checksum = s.checksum;
            self.units = vec![0u16; usize::from(s.seq()).saturating_mul(UNITS).saturating_add(1)];
            self.offsets.clear();
            self.clean = true;
        } else if self.slot == -1 && slot != 0 {
            out.push(LfnEvent {
                offset: at,
                problem: LfnProblem::Fragment {
                    text: utf16_until_nul(&s.units),
                },
            });
            self.reset();
            return;
        } else if slot != self.slot {
            out.push(LfnEvent {
                offset: at,
                problem: LfnProblem::Sequence {
                    got: s.seq(),
                    expected: self.slot,
                },
            });
            self.reset();
            return;
        }
        if s.checksum != self.checksum {
            out.push(LfnEvent {
                offset: at,
                problem: LfnProblem::PartChecksum {
                    got: s.checksum,
                    expected: self.checksum,
                },
            });
            self.clean = false;
        }
        if self.slot > 0 {
            self.slot = self.slot.saturating_sub(1);
            let at_unit = usize::try_from(self.slot)
                .unwrap_or(0)
                .saturating_mul(UNITS);
            for (i, &u) in s.units.iter().enumerate() {
                if let Some(d) = self.units.get_mut(at_unit.saturating_add(i)) {
                    *d = u;
                }
            }
            if s.is_last()
                && let Some(d) = self.units.get_mut(at_unit.saturating_add(UNITS))
            {
                *d = 0;
            }
            self.offsets.push(at);
        }
        if s.kind != 0 {
            out.push(LfnEvent {
                offset: at,
                problem: LfnProblem::Reserved(s.kind),
            });
        }
        if s.cluster != 0 {
            out.push(LfnEvent {
                offset: at,
                problem: LfnProblem::StartCluster(s.cluster),
            });
        }
    }

    /// The short entry `e` at byte `at`: the long name collected for it,
    /// if any.
    pub fn take(&mut self, e: &RawEntry, at: u64, out: &mut Vec<LfnEvent>) -> Option<LongName> {
        if self.slot == -1 {
            return None;
        }
        if self.slot != 0 {
            out.push(LfnEvent {
                offset: at,
                problem: LfnProblem::Unfinished {
                    text: self.so_far(),
                    short: e.short_name(),
                },
            });
            self.reset();
            return None;
        }
        let text = utf16_until_nul(&self.units);
        let mut valid = self.clean;
        if e.checksum() != self.checksum {
            out.push(LfnEvent {
                offset: at,
                problem: LfnProblem::Checksum {
                    text: text.clone(),
                    short: e.short_name(),
                },
            });
            valid = false;
        }
        let offset = self.offsets.first().copied().unwrap_or(at);
        self.reset();
        Some(LongName {
            name: text,
            offset,
            valid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dir::ATTR_ARCH;

    fn slot(ord: u8, text: &str, sum: u8) -> LfnSlot {
        let mut units = [0xFFFFu16; 13];
        let t: Vec<u16> = text.encode_utf16().collect();
        for (i, u) in units.iter_mut().enumerate() {
            match i.cmp(&t.len()) {
                std::cmp::Ordering::Less => *u = t[i],
                std::cmp::Ordering::Equal => *u = 0,
                std::cmp::Ordering::Greater => {}
            }
        }
        LfnSlot {
            ord,
            units,
            kind: 0,
            checksum: sum,
            cluster: 0,
        }
    }

    fn short(name: &[u8; 11]) -> RawEntry {
        let mut b = [0u8; 32];
        b[..11].copy_from_slice(name);
        b[11] = ATTR_ARCH;
        RawEntry::parse(&b)
    }

    #[test]
    fn a_two_slot_name_assembles() {
        let e = short(b"ALONGF~1TXT");
        let sum = e.checksum();
        let mut st = LfnState::new();
        let mut out = Vec::new();
        st.add_slot(&slot(0x42, "ame.txt", sum), 0, &mut out);
        st.add_slot(&slot(0x01, "A long file n", sum), 32, &mut out);
        let n = st.take(&e, 64, &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(n.name, "A long file name.txt");
        assert!(n.valid && n.offset == 0);
    }

    #[test]
    fn broken_sequences_are_named() {
        let e = short(b"FOO     TXT");
        let sum = e.checksum();
        let mut out = Vec::new();
        // A fragment with no start.
        let mut st = LfnState::new();
        st.add_slot(&slot(0x01, "frag", sum), 0, &mut out);
        assert!(matches!(out[0].problem, LfnProblem::Fragment { .. }));
        assert_eq!(st.take(&e, 32, &mut out), None);
        // A complete name followed by another first slot: the first is an orphan.
        out.clear();
        let mut st = LfnState::new();
        st.add_slot(&slot(0x41, "one", sum), 0, &mut out);
        st.add_slot(&slot(0x41, "two", sum), 32, &mut out);
        assert!(matches!(&out[0].problem, LfnProblem::Orphan { text } if text == "one"));
        assert!(out[0].problem.fsck_fixes());
        // Wrong checksum against the short name: kept by fsck.fat -n, not valid for Linux.
        out.clear();
        let n = st.take(&short(b"BAR     TXT"), 64, &mut out).unwrap();
        assert!(!n.valid && n.name == "two");
        assert!(matches!(out[0].problem, LfnProblem::Checksum { .. }));
        assert!(!out[0].problem.fsck_fixes());
        // Unfinished: the short entry arrives before slot 1.
        out.clear();
        let mut st = LfnState::new();
        st.add_slot(&slot(0x42, "b", sum), 0, &mut out);
        assert_eq!(st.take(&e, 32, &mut out), None);
        assert!(matches!(out[0].problem, LfnProblem::Unfinished { .. }));
        // A wrong sequence number and a non-zero reserved field.
        out.clear();
        let mut st = LfnState::new();
        st.add_slot(&slot(0x43, "c", sum), 0, &mut out);
        let mut s = slot(0x01, "a", sum);
        s.kind = 1;
        st.add_slot(&s, 32, &mut out);
        assert!(matches!(
            out[0].problem,
            LfnProblem::Sequence {
                got: 1,
                expected: 2
            }
        ));
        let mut st = LfnState::new();
        out.clear();
        st.add_slot(&s.clone(), 0, &mut out);
        let mut s2 = slot(0x41, "x", sum);
        s2.kind = 7;
        s2.cluster = 9;
        st.add_slot(&s2, 32, &mut out);
        assert!(out.iter().any(|e| e.problem == LfnProblem::Reserved(7)));
        assert!(out.iter().any(|e| e.problem == LfnProblem::StartCluster(9)));
        st.check_orphaned(&mut out);
        assert!(matches!(
            out.last().unwrap().problem,
            LfnProblem::Orphan { .. }
        ));
    }
}
