//! Where dev keeps its own servers' data, and the lock that lets one `lifesync dev` at a time
//! use it.
//!
//! The directory is `$XDG_DATA_HOME/lifesync/dev`, else `~/.local/share/lifesync/dev`; for
//! root without `XDG_DATA_HOME`, `/var/lib/lifesync/dev` (PostgreSQL runs as an unprivileged
//! user there, which cannot enter `/root`). Inside: `lock` (the owner's pid, under an advisory
//! lock the kernel drops when the owner dies, so a stale file never blocks), `secret` (the
//! servers' password, mode 0600), `postgres/` (the cluster), `redis/` (config, AOF, pid file)
//! and one log per server.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::Context;

use crate::config::Lookup;

/// The data directory for this user (see the module doc).
pub fn location(env: Lookup, root: bool) -> anyhow::Result<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let base = match (set("XDG_DATA_HOME"), set("HOME")) {
        (Some(xdg), _) => PathBuf::from(xdg),
        (None, _) if root => PathBuf::from("/var/lib"),
        (None, Some(home)) => Path::new(&home).join(".local/share"),
        (None, None) => anyhow::bail!(
            "dev: neither XDG_DATA_HOME nor HOME is set: no place for its own PostgreSQL and Redis data"
        ),
    };
    Ok(base.join("lifesync").join("dev"))
}

/// Held while a dev uses the directory; the file goes when it is dropped.
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Takes the directory, or says which dev holds it.
    pub fn acquire(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("dev: cannot create {}", dir.display()))?;
        let path = dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("dev: cannot open {}", path.display()))?;
        if let Err(e) = file.try_lock() {
            if let std::fs::TryLockError::Error(e) = e {
                anyhow::bail!("dev: cannot lock {}: {e}", path.display());
            }
            let mut owner = String::new();
            let _ = file.read_to_string(&mut owner);
            let owner = owner.trim();
            anyhow::bail!(
                "dev: another lifesync dev ({}) is running on {}: stop it first, or give this one another XDG_DATA_HOME",
                if owner.is_empty() { "pid unknown".to_string() } else { format!("pid {owner}") },
                dir.display()
            );
        }
        // Taken: whatever pid the file held is a dev that died (the kernel dropped its lock).
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(Self { file, path })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Removes everything but the lock (the caller holds it): `--dev-reset`.
pub fn wipe(dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name() == "lock" {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        }
        .with_context(|| format!("dev: cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// The servers' password: made once (random, mode 0600), kept with their data.
pub fn secret(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if !s.trim().is_empty() {
            return Ok(s.trim().to_string());
        }
    }
    let secret = format!("{:032x}", rand::random::<u128>());
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("dev: cannot write {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(secret)
}

/// A directory that only its owner may enter (PostgreSQL insists on it for its data).
pub fn private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path)
        .with_context(|| format!("dev: cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_directory_follows_xdg_then_home_and_root_uses_var_lib() {
        let e = env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(location(&e, false).unwrap(), Path::new("/x/lifesync/dev"));
        assert_eq!(location(&e, true).unwrap(), Path::new("/x/lifesync/dev"));
        let e = env(&[("HOME", "/h")]);
        assert_eq!(
            location(&e, false).unwrap(),
            Path::new("/h/.local/share/lifesync/dev")
        );
        assert_eq!(
            location(&e, true).unwrap(),
            Path::new("/var/lib/lifesync/dev")
        );
        assert!(location(&env(&[]), false).is_err());
    }

    #[test]
    fn one_holder_at_a_time_and_a_dead_holder_does_not_block() {
        let dir = std::env::temp_dir().join(format!("lifesync-lock-{}", ulid::Ulid::new()));
        // A file left by a dev that died: not locked, so taken.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lock"), "999999999\n").unwrap();
        let held = Lock::acquire(&dir).unwrap();
        let mine = std::process::id().to_string();
        assert_eq!(
            std::fs::read_to_string(dir.join("lock")).unwrap().trim(),
            mine
        );
        let refused = Lock::acquire(&dir).err().unwrap().to_string();
        assert!(refused.contains(&format!("pid {mine}")), "{refused}");
        drop(held);
        assert!(!dir.join("lock").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
