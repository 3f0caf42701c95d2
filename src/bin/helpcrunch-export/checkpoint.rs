//! The checkpoint: where an export stands, written atomically after each page is safely in the
//! output, so that the same command run again continues from there with the scan's guarantee.
//!
//! It holds the scan's [`ScanPosition`] (the last record read, its offset, the totals). The
//! other thing a resumed scan needs, the ids it has yielded, is read back from the output
//! itself, up to the last whole page: the output is the record of what was written, and
//! keeping a second copy of the id set here would rewrite it after every page.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use helpcrunch_pager::ScanPosition;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Failure;

/// The file's format version; a checkpoint of another version is refused, not guessed at.
/// Version 1 had no scan position, so it could not resume with the guarantee.
const VERSION: u32 = 2;

/// What an export is: a checkpoint belongs to one, and is refused by any other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Identity {
    /// The collection's path, such as `departments`.
    pub(crate) collection: String,
    /// The search body, where there is one.
    pub(crate) filter: Option<Value>,
    /// The base URL, or `simulated` (never the key).
    pub(crate) source: String,
    /// The output file, as an absolute path.
    pub(crate) output: PathBuf,
}

/// Where an export stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    version: u32,
    #[serde(flatten)]
    pub(crate) identity: Identity,
    /// The offset of the first record not yet in the output.
    pub(crate) next_offset: u64,
    /// The length of the output up to and including the last whole page.
    pub(crate) output_bytes: u64,
    /// Records in the output.
    pub(crate) records: u64,
    /// Where the scan stood after the last whole page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) position: Option<ScanPosition>,
}

impl Checkpoint {
    /// The start of an export.
    pub(crate) fn start(identity: Identity) -> Self {
        Self {
            version: VERSION,
            identity,
            next_offset: 0,
            output_bytes: 0,
            records: 0,
            position: None,
        }
    }

    /// The checkpoint at `path` if there is one, refused if it belongs to another export.
    pub(crate) fn load(path: &Path, identity: &Identity) -> Result<Option<Self>, Failure> {
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Failure::run(format!(
                    "cannot read the checkpoint {}: {e}",
                    path.display()
                )))
            }
        };
        let found: Checkpoint = serde_json::from_slice(&text).map_err(|e| {
            Failure::run(format!(
                "{} is not a checkpoint of this tool ({e}); pass another --checkpoint file",
                path.display()
            ))
        })?;
        if found.version != VERSION {
            return Err(Failure::run(format!(
                "the checkpoint {} has format version {}, this tool writes {VERSION}; \
                 delete it to start over",
                path.display(),
                found.version
            )));
        }
        if found.identity != *identity {
            return Err(Failure::run(format!(
                "the checkpoint {} belongs to another export ({}); this one is {}. \
                 Pass another --checkpoint file, or delete it to start over",
                path.display(),
                describe(&found.identity),
                describe(identity),
            )));
        }
        Ok(Some(found))
    }

    /// Writes the checkpoint to `path` atomically: to a uniquely named temporary file beside
    /// it, flushed to disk, then renamed over the old one. A crash leaves the old checkpoint
    /// or the new one, and never a temporary file another run could mistake for its own.
    pub(crate) fn save(&self, path: &Path) -> Result<(), Failure> {
        let fail = |e: std::io::Error| {
            Failure::run(format!(
                "cannot write the checkpoint {}: {e}",
                path.display()
            ))
        };
        let mut file = tempfile::Builder::new()
            .prefix(".helpcrunch-checkpoint-")
            .tempfile_in(parent(path))
            .map_err(fail)?;
        let body = serde_json::to_vec_pretty(self).expect("a checkpoint always serializes");
        file.write_all(&body).map_err(fail)?;
        file.as_file().sync_all().map_err(fail)?;
        file.persist(path).map_err(|e| fail(e.error))?;
        sync_parent(path);
        Ok(())
    }
}

fn describe(identity: &Identity) -> String {
    let mut out = format!("{} from {}", identity.collection, identity.source);
    if let Some(filter) = &identity.filter {
        out.push_str(&format!(" with filter {filter}"));
    }
    out.push_str(&format!(" into {}", identity.output.display()));
    out
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes the rename itself durable, where the platform allows opening a directory.
fn sync_parent(path: &Path) {
    if let Ok(dir) = File::open(parent(path)) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(collection: &str) -> Identity {
        Identity {
            collection: collection.into(),
            filter: None,
            source: "simulated".into(),
            output: PathBuf::from("/out.jsonl"),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hc-ckpt-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("export.checkpoint")
    }

    #[test]
    fn a_saved_checkpoint_loads_back_for_the_same_export() {
        let path = scratch("same");
        let mut c = Checkpoint::start(identity("departments"));
        c.next_offset = 300;
        c.output_bytes = 4_096;
        c.records = 300;
        c.save(&path).unwrap();
        assert_eq!(
            Checkpoint::load(&path, &identity("departments")).unwrap(),
            Some(c)
        );
        let left: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            [path.file_name().unwrap()],
            "the temporary file was renamed"
        );
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_checkpoint_of_another_export_or_no_checkpoint_at_all_is_refused() {
        let path = scratch("other");
        Checkpoint::start(identity("departments"))
            .save(&path)
            .unwrap();
        let e = Checkpoint::load(&path, &identity("agents")).unwrap_err();
        assert!(
            e.message()
                .contains("belongs to another export (departments"),
            "{}",
            e.message()
        );
        fs::write(&path, "not json").unwrap();
        let e = Checkpoint::load(&path, &identity("departments")).unwrap_err();
        assert!(
            e.message().contains("is not a checkpoint"),
            "{}",
            e.message()
        );
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(
            Checkpoint::load(&path, &identity("departments")).unwrap(),
            None
        );
    }
}
