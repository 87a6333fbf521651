//! The inputs of a run, checked before any is read, as tcpdump and tshark would: a file that
//! cannot be opened (or is no capture) among several is an error unless `--keep-going`, and
//! the same file given twice — by any name, standard input included — is refused (device and
//! inode compared), since its packets would be counted twice.
//!
//! Before that, [`expand`] turns a directory into the capture files in it (rotated captures:
//! `tcpdump -G/-C`, `dumpcap -b`) and a quoted glob pattern into the files it matches; the
//! analysis merges them in time order as one capture.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::InputError;
use crate::source::CaptureFile;

/// The inputs once directories and patterns are expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Files to read, in the order given (a directory's and a pattern's by name).
    pub files: Vec<String>,
    /// Files of a directory skipped because they are no capture, one message each.
    pub skipped: Vec<String>,
}

/// True when `text` has a glob metacharacter.
fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Expands the inputs: a directory gives every capture file in it (by name; hidden files and
/// subdirectories are passed over, other files that are no capture are skipped with a
/// message), a path that does not exist but is a glob pattern (quoted, so the shell left it)
/// the files it matches, by name. Anything else is kept as given, for [`check`] to judge.
pub fn expand(paths: &[String]) -> Result<Expanded, InputError> {
    let mut out = Expanded::default();
    for path in paths {
        let p = std::path::Path::new(path);
        if path != "-" && p.is_dir() {
            let entries = fs::read_dir(p)
                .map_err(|e| InputError(format!("{path}: cannot list the directory: {e}")))?;
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry
                    .map_err(|e| InputError(format!("{path}: cannot list the directory: {e}")))?;
                let hidden = entry.file_name().to_string_lossy().starts_with('.');
                if !hidden && entry.path().is_file() {
                    names.push(entry.path());
                }
            }
            names.sort();
            let before = out.files.len();
            for name in names {
                let name = name.to_string_lossy().into_owned();
                match CaptureFile::open(&name) {
                    Ok(_) => out.files.push(name),
                    Err(e) => out.skipped.push(format!("{e}: skipped")),
                }
            }
            if out.files.len() == before {
                return Err(InputError(format!(
                    "{path}: no capture file in the directory"
                )));
            }
        } else if path != "-" && !p.exists() && is_pattern(path) {
            let matches = glob::glob(path)
                .map_err(|e| InputError(format!("{path}: not a valid pattern: {e}")))?;
            let mut found: Vec<String> = matches
                .filter_map(Result::ok)
                .filter(|m| m.is_file())
                .map(|m| m.to_string_lossy().into_owned())
                .collect();
            if found.is_empty() {
                return Err(InputError(format!("{path}: the pattern matches no file")));
            }
            found.sort();
            out.files.extend(found);
        } else {
            out.files.push(path.clone());
        }
    }
    Ok(out)
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_patterns_expand() {
        let dir = std::env::temp_dir().join(format!("peerscope-expand-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        // A pcap header (pcap-savefile(5): magic, version 2.4, snaplen, Ethernet).
        let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        header.extend([0; 8]);
        header.extend(65_535u32.to_le_bytes());
        header.extend(1u32.to_le_bytes());
        fs::write(dir.join("b.pcap"), &header).unwrap();
        fs::write(dir.join("a.pcap1"), &header).unwrap();
        fs::write(dir.join("notes.txt"), b"not a capture").unwrap();
        fs::write(dir.join(".hidden"), b"x").unwrap();
        let d = dir.to_string_lossy().into_owned();
        let e = expand(std::slice::from_ref(&d)).unwrap();
        assert_eq!(e.files, vec![format!("{d}/a.pcap1"), format!("{d}/b.pcap")]);
        assert_eq!(e.skipped.len(), 1);
        assert!(e.skipped[0].contains("notes.txt"), "{:?}", e.skipped);
        let e = expand(&[format!("{d}/*.pcap*")]).unwrap();
        assert_eq!(e.files.len(), 2);
        assert!(e.skipped.is_empty());
        assert!(expand(&[format!("{d}/*.none")]).is_err());
        assert!(expand(&[format!("{d}/sub")]).is_err());
        assert_eq!(expand(&["-".to_string()]).unwrap().files, vec!["-"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
