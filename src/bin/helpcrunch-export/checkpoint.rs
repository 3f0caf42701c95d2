//! The checkpoint: where an export stands, written atomically after each page is safely in the
//! output, so that the same command run again continues from there with the scan's guarantee.
//!
//! It holds the scan's [`ScanPosition`] (the last record read, its offset, the totals). The
//! other thing a resumed scan needs, the ids it has yielded, is read back from the output
//! itself, up to the last whole page: the output is the record of what was written, and
//! keeping a second copy of the id set here would rewrite it after every page.
//!
//! So a resume trusts the output and the checkpoint only together: the checkpoint carries a
//! seal, the SHA-256 of the output up to its last whole page followed by the checkpoint's own
//! fields. An output edited, cut or swapped since, or a checkpoint whose position, records or
//! byte count were edited, breaks the seal, and the resume is refused instead of leaving a gap.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use helpcrunch_pager::ScanPosition;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::output::Output;
use crate::Failure;

/// The file's format version; a checkpoint of another version is refused, not guessed at.
/// Version 1 had no scan position, so it could not resume with the guarantee; version 2 had no
/// seal, so nothing showed whether the output still held what it described.
const VERSION: u32 = 3;

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
    /// SHA-256, in hex, of the output's first `output_bytes` bytes followed by this
    /// checkpoint's JSON with an empty seal.
    seal: String,
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
            seal: String::new(),
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
        let not_ours = |e: serde_json::Error| {
            Failure::run(format!(
                "{} is not a checkpoint of this tool ({e}); pass another --checkpoint file",
                path.display()
            ))
        };
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version = serde_json::from_slice::<Version>(&text)
            .map_err(not_ours)?
            .version;
        if version < VERSION {
            return Err(Failure::run(format!(
                "the checkpoint {} was written by an older helpcrunch-export (format version \
                 {version}), which did not record what the output held, so a resume from it \
                 cannot be checked: finish the export with that version, or delete the \
                 checkpoint to start over",
                path.display()
            )));
        }
        if version > VERSION {
            return Err(Failure::run(format!(
                "the checkpoint {} was written by a newer helpcrunch-export (format version \
                 {version}; this one writes {VERSION}): resume with that version, or delete \
                 the checkpoint to start over",
                path.display()
            )));
        }
        let found: Checkpoint = serde_json::from_slice(&text).map_err(not_ours)?;
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

    /// Refuses a resume from this checkpoint (at `path`) unless `output`, as it was reopened,
    /// holds exactly what the checkpoint describes: its length, its records, and the seal over
    /// both the output and the checkpoint's position.
    pub(crate) fn check(&self, path: &Path, output: &Output) -> Result<(), Failure> {
        let why = if output.bytes() < self.output_bytes {
            format!(
                "the output is shorter ({} bytes) than the checkpoint says it was ({})",
                output.bytes(),
                self.output_bytes
            )
        } else if output.lines() != self.records {
            format!(
                "the checkpoint counts {} records, the output holds {} lines in its first {} \
                 bytes",
                self.records,
                output.lines(),
                self.output_bytes
            )
        } else if self.sealed(output.digest()) != self.seal {
            "the output's records, or the checkpoint's position, are not what the export \
             wrote"
                .to_owned()
        } else {
            return Ok(());
        };
        Err(Failure::run(format!(
            "the checkpoint {} does not match the output {}: {why}. One of them was changed \
             since the export stopped, and resuming would leave a gap or duplicates. Put both \
             back as the export left them, or delete the checkpoint to start the export over",
            path.display(),
            self.identity.output.display()
        )))
    }

    /// The seal of this checkpoint over an output whose digest so far is `output`.
    fn sealed(&self, output: Sha256) -> String {
        let unsealed = Checkpoint {
            seal: String::new(),
            ..self.clone()
        };
        let mut hash = output;
        hash.update(serde_json::to_vec(&unsealed).expect("a checkpoint always serializes"));
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals the checkpoint over `output`, the digest of the output it describes, and writes
    /// it to `path` atomically: to a uniquely named temporary file beside it, flushed to disk,
    /// then renamed over the old one. A crash leaves the old checkpoint or the new one, and
    /// never a temporary file another run could mistake for its own.
    pub(crate) fn save(&mut self, path: &Path, output: Sha256) -> Result<(), Failure> {
        self.seal = self.sealed(output);
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
        // A scan in an order that moves carries the head it found, with a fractional time.
        c.position = Some(
            serde_json::from_str(
                r#"{"offset":300,"anchor":7,"total":900,
                    "head":{"ids":[9,8,7],"newest":"1700000000.25"}}"#,
            )
            .unwrap(),
        );
        c.save(&path, Sha256::new()).unwrap();
        let loaded = Checkpoint::load(&path, &identity("departments"))
            .unwrap()
            .unwrap();
        assert_eq!(loaded, c);
        assert_eq!(
            loaded.sealed(Sha256::new()),
            c.seal,
            "the seal reads back as it was written"
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
            .save(&path, Sha256::new())
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
