//! A reader of `inventory.ini` in a tight loop, proving it never sees a partial file while
//! writers run.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use vm::inventory::render::HEADER;

/// What the reader thread found: reads of an existing file, each distinct text with its count,
/// and the first few texts that were not whole.
type ReaderReport = (usize, HashMap<Vec<u8>, usize>, Vec<String>);

/// Reads `path` in a tight loop until `stop`, checking every read for the two marks of a whole
/// file (the generated header first, a newline last) and keeping each distinct text seen.
pub struct Reader {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<ReaderReport>,
}

impl Reader {
    pub fn start(path: &Path) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let path = path.to_path_buf();
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut reads = 0;
            let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
            let mut broken = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let bytes = match fs::read(&path) {
                    Ok(bytes) => bytes,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => panic!("read {}: {e}", path.display()),
                };
                reads += 1;
                let whole =
                    bytes.starts_with(format!("{HEADER}\n").as_bytes()) && bytes.ends_with(b"\n");
                if !whole && broken.len() < 5 {
                    broken.push(String::from_utf8_lossy(&bytes).into_owned());
                }
                *seen.entry(bytes).or_default() += 1;
            }
            (reads, seen, broken)
        });
        Reader { stop, handle }
    }

    /// Stops the reader; returns how many reads found the file and each distinct text.
    pub fn finish(self) -> (usize, HashMap<Vec<u8>, usize>) {
        self.stop.store(true, Ordering::Relaxed);
        let (reads, seen, broken) = self.handle.join().expect("reader thread panicked");
        assert!(
            broken.is_empty(),
            "the reader saw {} partial file(s), e.g.:\n{}",
            broken.len(),
            broken[0]
        );
        (reads, seen)
    }
}
