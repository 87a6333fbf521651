//! The inputs of a run, checked before any is read, as tcpdump and tshark would: a file that
//! cannot be opened (or is no capture) among several is an error unless `--keep-going`, and
//! the same file given twice — by any name, standard input included — is refused (device and
//! inode compared), since its packets would be counted twice.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::InputError;
use crate::source::CaptureFile;

/// `-` is standard input; its metadata is that of what it is connected to.
fn metadata(path: &str) -> std::io::Result<fs::Metadata> {
    if path == "-" {
        fs::metadata("/dev/stdin")
    } else {
        fs::metadata(path)
    }
}

fn shown(path: &str) -> &str {
    if path == "-" {
        "standard input"
    } else {
        path
    }
}

/// Checks the inputs. Regular files are opened and their header read (a FIFO, a character
/// device or standard input is not: it cannot be read twice). With `keep_going`, unusable
/// files are left to the analysis, which warns about each and reads the rest.
pub fn check(paths: &[String], keep_going: bool) -> Result<(), InputError> {
    let mut seen: HashMap<(u64, u64), &str> = HashMap::new();
    let mut problems = Vec::new();
    let mut stdin_given = false;
    for path in paths {
        if path == "-" {
            if stdin_given {
                return Err(InputError(
                    "standard input (-) is given twice: it can be read once".into(),
                ));
            }
            stdin_given = true;
        }
        let meta = match metadata(path) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{}: {e}", shown(path)));
                continue;
            }
        };
        let id = (meta.dev(), meta.ino());
        // A terminal or /dev/null as stdin is not a file another argument can name.
        let comparable = !(path == "-" && meta.file_type().is_char_device());
        if comparable {
            if let Some(first) = seen.insert(id, path) {
                return Err(InputError(format!(
                    "{} and {} are the same file (device {}, inode {}): give each capture once, or its packets are counted twice",
                    shown(first),
                    shown(path),
                    id.0,
                    id.1
                )));
            }
        }
        if path != "-" && meta.is_file() {
            if let Err(e) = CaptureFile::open(path) {
                problems.push(e.to_string());
            }
        }
    }
    if !problems.is_empty() && !keep_going {
        let more = if paths.len() > 1 {
            "; --keep-going analyses the other files"
        } else {
            ""
        };
        return Err(InputError(format!("{}{more}", problems.join("; "))));
    }
    Ok(())
}
