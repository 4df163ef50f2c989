//! Backing files that are not files: an embedder that knows where a
//! backing name leads — an LV of a volume group it assembled (oVirt block
//! storage domains name a volume's parent `../<image>/<volume>`, which
//! vdsm links to `/dev/<vg>/<volume>`), an image inside an archive — hands
//! the opener a [`BackingResolver`]. The crate asks it first for every name
//! of the chain; a name it does not know is looked up on the file system
//! as before.

use imgcheck_core::ReadAt;
use std::path::PathBuf;
use std::sync::Arc;

/// A backing image the resolver found.
#[derive(Clone)]
pub struct ResolvedBacking {
    /// Its bytes (read-only, as every reader of this crate).
    pub reader: Arc<dyn ReadAt>,
    /// What makes it this image and no other (for example
    /// `lvm2:<vg uuid>/<lv uuid>`): a chain that comes back to the same
    /// identity is a loop.
    pub identity: String,
    /// How reports name it (`/dev/<vg>/<lv>`).
    pub shown: PathBuf,
}

impl std::fmt::Debug for ResolvedBacking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedBacking")
            .field("identity", &self.identity)
            .field("shown", &self.shown)
            .field("len", &self.reader.len())
            .finish()
    }
}

/// What a resolver says about a backing name it knows.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// The name leads here.
    Found(ResolvedBacking),
    /// The name is the resolver's to answer, and what it names is not
    /// there (why, in words).
    Missing(String),
    /// What it names is there but cannot be read (why, in words).
    Unreadable(String),
}

/// Maps a backing file name, as an image's header stores it, to a reader.
/// `None`: not a name this resolver answers (the file system is asked).
pub trait BackingResolver: Send + Sync {
    /// Where `name` leads.
    fn resolve(&self, name: &str) -> Option<Resolution>;
}

impl<F> BackingResolver for F
where
    F: Fn(&str) -> Option<Resolution> + Send + Sync,
{
    fn resolve(&self, name: &str) -> Option<Resolution> {
        self(name)
    }
}

/// A shared resolver in [`crate::OpenOptions`] (cheap to clone, printed
/// by name only).
#[derive(Clone)]
pub struct Resolver(pub Arc<dyn BackingResolver>);

impl Resolver {
    /// A resolver from a closure or any [`BackingResolver`].
    pub fn new(r: impl BackingResolver + 'static) -> Resolver {
        Resolver(Arc::new(r))
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver(..)")
    }
}
