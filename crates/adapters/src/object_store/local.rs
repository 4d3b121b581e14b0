//! An [`ObjectStore`] over a local directory: key `a/b/c` is the file `{root}/a/b/c`.
//!
//! - Puts are atomic: the content goes to a temporary file in the target directory, which is
//!   fsynced and renamed over the target (readers see the old or the new file, never a mix).
//! - The ETag is the hex md5 of the content; `head` and `list` hash the files to report it (no
//!   sidecar files, so the tree stays exactly what Athena, DuckDB or polars expect).
//! - Every mutation (put of any mode, delete) holds an advisory lock ([`std::fs::File::lock`],
//!   `flock` on Unix) on one of 64 lock files under `{root}/.axia-locks/`, chosen by the key's
//!   md5. The lock is taken per open file, so it excludes other tasks of this process as well
//!   as other processes on the same host; it is released when the holder exits, so a crash
//!   leaves no stale lock. Conditional puts check the current ETag and rename under that lock,
//!   which makes `Create` / `Update` safe between concurrent writers. Advisory locks may not
//!   work on network filesystems (NFS, SMB): point several hosts at S3 instead.
//! - Names starting with `.axia-` (temporary and lock files) are reserved and never listed.

use std::fs::{self, File, TryLockError};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axia_domain::ports::{ObjectMeta, ObjectStore, ObjectStoreError, PutMode};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};

use super::{RESERVED_PREFIX, md5_hex, validate_key, validate_prefix};

const LOCK_DIR: &str = ".axia-locks";
const LOCK_STRIPES: u8 = 64;
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Objects as files under a root directory (created on the first put).
#[derive(Debug, Clone)]
pub struct LocalObjectStore {
    root: PathBuf,
}

impl LocalObjectStore {
    /// A store rooted at `root`; a relative root is made absolute against the current
    /// directory now, so later `chdir`s do not move the store.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        Self { root }
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key` (the key must be valid).
    #[must_use]
    pub fn path_of(&self, key: &str) -> PathBuf {
        key.split('/').fold(self.root.clone(), |path, segment| path.join(segment))
    }
}

/// Whether an io error happened while reading or while writing (they map differently when the
/// path collides with a directory).
#[derive(Clone, Copy)]
enum Op {
    Read,
    Write,
}

fn map_io(e: &io::Error, key: &str, path: &Path, op: Op) -> ObjectStoreError {
    match (e.kind(), op) {
        (ErrorKind::NotFound, _) => ObjectStoreError::NotFound { key: key.to_string() },
        // `a` when only `a/b` exists, or `a/b` when `a` is a file: there is no object there.
        (ErrorKind::IsADirectory | ErrorKind::NotADirectory, Op::Read) => {
            ObjectStoreError::NotFound { key: key.to_string() }
        }
        // `create_dir_all` answers AlreadyExists when a parent of the key is a file.
        (
            ErrorKind::IsADirectory
            | ErrorKind::NotADirectory
            | ErrorKind::DirectoryNotEmpty
            | ErrorKind::AlreadyExists,
            Op::Write,
        ) => ObjectStoreError::InvalidKey {
            key: key.to_string(),
            detail: format!("{} collides with an existing file or directory: {e}", path.display()),
        },
        (ErrorKind::PermissionDenied, _) => {
            ObjectStoreError::Misconfigured { detail: format!("permission denied on {}: {e}", path.display()) }
        }
        (ErrorKind::ReadOnlyFilesystem | ErrorKind::StorageFull | ErrorKind::QuotaExceeded, _) => {
            ObjectStoreError::Misconfigured { detail: format!("cannot write {}: {e}", path.display()) }
        }
        _ => ObjectStoreError::Unavailable { detail: format!("{}: {e}", path.display()) },
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ObjectStoreError> + Send + 'static,
) -> Result<T, ObjectStoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ObjectStoreError::Unavailable { detail: format!("local object store task failed: {e}") })?
}

fn modified(meta: &fs::Metadata) -> DateTime<Utc> {
    meta.modified().map_or_else(|_| Utc::now(), DateTime::<Utc>::from)
}

/// Holds the stripe lock of a key until dropped (closing the file releases the lock).
struct KeyLock {
    _file: File,
}

fn lock_key(root: &Path, key: &str) -> Result<KeyLock, ObjectStoreError> {
    let dir = root.join(LOCK_DIR);
    fs::create_dir_all(&dir).map_err(|e| map_io(&e, key, &dir, Op::Write))?;
    let stripe = Md5::digest(key.as_bytes())[0] % LOCK_STRIPES;
    let path = dir.join(format!("{stripe:02}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| map_io(&e, key, &path, Op::Write))?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(KeyLock { _file: file }),
            Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(ObjectStoreError::Unavailable {
                    detail: format!("timed out after {LOCK_TIMEOUT:?} waiting for the lock {}", path.display()),
                });
            }
            Err(TryLockError::Error(e)) => return Err(map_io(&e, key, &path, Op::Write)),
        }
    }
}

/// Reads a regular file with the metadata of the same open file.
fn read_file(key: &str, path: &Path) -> Result<(Vec<u8>, fs::Metadata), ObjectStoreError> {
    let mut file = File::open(path).map_err(|e| map_io(&e, key, path, Op::Read))?;
    let meta = file.metadata().map_err(|e| map_io(&e, key, path, Op::Read))?;
    if !meta.is_file() {
        return Err(ObjectStoreError::NotFound { key: key.to_string() });
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut data).map_err(|e| map_io(&e, key, path, Op::Read))?;
    Ok((data, meta))
}

fn meta_of(key: &str, data: &[u8], meta: &fs::Metadata) -> ObjectMeta {
    let etag = md5_hex(data);
    ObjectMeta {
        key: key.to_string(),
        size: data.len() as u64,
        md5: Some(etag.clone()),
        etag,
        last_modified: modified(meta),
    }
}

/// The current ETag at `path`, or `None` when there is no object.
fn current_etag(key: &str, path: &Path) -> Result<Option<String>, ObjectStoreError> {
    match read_file(key, path) {
        Ok((data, _)) => Ok(Some(md5_hex(&data))),
        Err(ObjectStoreError::NotFound { .. }) => {
            if path.is_dir() {
                return Err(ObjectStoreError::InvalidKey {
                    key: key.to_string(),
                    detail: format!("{} is a directory", path.display()),
                });
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn put_blocking(
    root: &Path,
    key: &str,
    path: &Path,
    data: &[u8],
    mode: &PutMode,
) -> Result<ObjectMeta, ObjectStoreError> {
    let _lock = lock_key(root, key)?;
    let current = match mode {
        PutMode::Overwrite => None,
        PutMode::Create | PutMode::Update { .. } => current_etag(key, path)?,
    };
    let allowed = match (mode, current) {
        (PutMode::Overwrite, _) | (PutMode::Create, None) => true,
        (PutMode::Update { etag: expected }, Some(actual)) => *expected == actual,
        (PutMode::Create, Some(_)) | (PutMode::Update { .. }, None) => false,
    };
    if !allowed {
        return Err(ObjectStoreError::PreconditionFailed { key: key.to_string() });
    }
    write_atomic(path, data).map_err(|e| map_io(&e, key, path, Op::Write))?;
    let meta = fs::metadata(path).map_err(|e| map_io(&e, key, path, Op::Write))?;
    Ok(meta_of(key, data, &meta))
}

fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let parent = path.parent().ok_or_else(|| io::Error::other("an object path has no parent directory"))?;
    // A concurrent delete may remove the (then empty) directory between `create_dir_all` and
    // the creation of the temporary file; try again a few times.
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        fs::create_dir_all(parent)?;
        let tmp = parent.join(format!("{RESERVED_PREFIX}tmp-{}", uuid::Uuid::new_v4().simple()));
        match File::options().write(true).create_new(true).open(&tmp) {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == ErrorKind::NotFound && attempt < 4 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let written = file.write_all(data).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable; not every platform can fsync a directory.
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn delete_blocking(root: &Path, key: &str, path: &Path) -> Result<(), ObjectStoreError> {
    let _lock = lock_key(root, key)?;
    match fs::remove_file(path) {
        Ok(()) => {}
        // No object at this key (possibly a directory of other objects): nothing to delete.
        Err(e)
            if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory)
                || path.is_dir() =>
        {
            return Ok(());
        }
        Err(e) => return Err(map_io(&e, key, path, Op::Write)),
    }
    // Remove directories the delete left empty, so listings and globbing stay clean; a
    // directory that is not empty (or just got a new file) stays.
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

fn list_blocking(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectStoreError> {
    // Start in the deepest directory the prefix names, then filter by the full prefix string.
    let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
    let start = dir_part.split('/').filter(|s| !s.is_empty()).fold(root.to_path_buf(), |p, s| p.join(s));
    let mut out = Vec::new();
    let mut stack = vec![(start, dir_part.to_string())];
    while let Some((dir, dir_key)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => continue,
            Err(e) => return Err(map_io(&e, prefix, &dir, Op::Read)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| map_io(&e, prefix, &dir, Op::Read))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if name.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let key = format!("{dir_key}{name}");
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                let sub = format!("{key}/");
                if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                    stack.push((path, sub));
                }
            } else if key.starts_with(prefix) {
                match read_file(&key, &path) {
                    Ok((data, meta)) => out.push(meta_of(&key, &data, &meta)),
                    // Deleted meanwhile, or a symlink to a directory: not an object.
                    Err(ObjectStoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

#[async_trait]
impl ObjectStore for LocalObjectStore {
    fn location(&self) -> String {
        let path = self.root.display().to_string().replace('\\', "/");
        if path.starts_with('/') { format!("file://{path}") } else { format!("file:///{path}") }
    }

    async fn put(&self, key: &str, data: Vec<u8>, mode: PutMode) -> Result<ObjectMeta, ObjectStoreError> {
        validate_key(key)?;
        let (root, path, key) = (self.root.clone(), self.path_of(key), key.to_string());
        blocking(move || put_blocking(&root, &key, &path, &data, &mode)).await
    }

    async fn get(&self, key: &str) -> Result<(Vec<u8>, ObjectMeta), ObjectStoreError> {
        validate_key(key)?;
        let (path, key) = (self.path_of(key), key.to_string());
        blocking(move || {
            let (data, meta) = read_file(&key, &path)?;
            let meta = meta_of(&key, &data, &meta);
            Ok((data, meta))
        })
        .await
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, ObjectStoreError> {
        validate_key(key)?;
        let (path, key) = (self.path_of(key), key.to_string());
        blocking(move || {
            let (data, meta) = read_file(&key, &path)?;
            Ok(meta_of(&key, &data, &meta))
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectStoreError> {
        validate_prefix(prefix)?;
        let (root, prefix) = (self.root.clone(), prefix.to_string());
        blocking(move || list_blocking(&root, &prefix)).await
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        validate_key(key)?;
        let (root, path, key) = (self.root.clone(), self.path_of(key), key.to_string());
        blocking(move || delete_blocking(&root, &key, &path)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalObjectStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjectStore::new(dir.path());
        (dir, store)
    }

    #[tokio::test]
    async fn put_writes_the_file_and_leaves_no_temp_file() {
        let (dir, store) = store();
        let meta = store.put("a/b/c.bin", b"hello".to_vec(), PutMode::Create).await.unwrap();
        assert_eq!(fs::read(dir.path().join("a/b/c.bin")).unwrap(), b"hello");
        assert_eq!(meta.etag, md5_hex(b"hello"));
        assert_eq!(meta.md5.as_deref(), Some(meta.etag.as_str()));
        let names: Vec<_> = fs::read_dir(dir.path().join("a/b")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["c.bin"]);
    }

    #[tokio::test]
    async fn list_skips_reserved_files_and_sorts() {
        let (dir, store) = store();
        for k in ["x/2", "x/1", "y"] {
            store.put(k, k.as_bytes().to_vec(), PutMode::Overwrite).await.unwrap();
        }
        fs::write(dir.path().join("x/.axia-tmp-leftover"), b"partial").unwrap();
        let keys: Vec<String> = store.list("").await.unwrap().into_iter().map(|m| m.key).collect();
        assert_eq!(keys, ["x/1", "x/2", "y"]);
    }

    #[tokio::test]
    async fn delete_prunes_empty_directories() {
        let (dir, store) = store();
        store.put("a/b/c", b"1".to_vec(), PutMode::Overwrite).await.unwrap();
        store.delete("a/b/c").await.unwrap();
        assert!(!dir.path().join("a").exists());
        assert!(dir.path().exists());
        store.delete("a/b/c").await.unwrap();
    }

    #[tokio::test]
    async fn directory_keys_are_not_objects() {
        let (_dir, store) = store();
        store.put("a/b", b"1".to_vec(), PutMode::Overwrite).await.unwrap();
        assert!(matches!(store.get("a").await, Err(ObjectStoreError::NotFound { .. })));
        assert!(matches!(store.get("a/b/c").await, Err(ObjectStoreError::NotFound { .. })));
        assert!(matches!(store.put("a", vec![], PutMode::Create).await, Err(ObjectStoreError::InvalidKey { .. })));
        let under_a_file = store.put("a/b/c", vec![], PutMode::Overwrite).await;
        assert!(matches!(under_a_file, Err(ObjectStoreError::InvalidKey { .. })), "{under_a_file:?}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn permission_denied_is_misconfigured_and_names_the_path() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();
        store.put("ro/x", b"1".to_vec(), PutMode::Overwrite).await.unwrap();
        let ro = dir.path().join("ro");
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o500)).unwrap();
        // Root ignores permissions; only check when the write is really refused.
        if File::create(ro.join("probe")).is_err() {
            let err = store.put("ro/y", b"2".to_vec(), PutMode::Overwrite).await.unwrap_err();
            match err {
                ObjectStoreError::Misconfigured { detail } => assert!(detail.contains("ro"), "{detail}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn location_is_a_file_url() {
        let store = LocalObjectStore::new("/tmp/axia-data");
        assert_eq!(store.location(), "file:///tmp/axia-data");
    }
}
