//! Where the PostgreSQL and Redis server programs are, and, when they are not anywhere, the one
//! command that installs them on this platform.
//!
//! Searched: every `PATH` directory, then the places packages put them off the `PATH`:
//! Debian's `/usr/lib/postgresql/<version>/bin`, Homebrew's keg-only
//! `/opt/homebrew/opt/postgresql@<version>/bin` and `/usr/local/opt/…` (macOS), the PGDG
//! `/usr/pgsql-<version>/bin` (RHEL) and Homebrew's `bin`s; newest version first.
//! `LIFESYNC_DEV_SEARCH_ROOTS` (test-only: colon-separated, one `*` per entry at most; empty:
//! none) replaces that second list.

use std::path::{Path, PathBuf};

use crate::config::Lookup;

const SEARCH_ROOTS: &[&str] = &[
    "/usr/lib/postgresql/*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/bin",
    "/usr/local/bin",
];

/// The directories to look in, in order.
pub fn search_dirs(env: Lookup) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    match env("LIFESYNC_DEV_SEARCH_ROOTS") {
        Some(roots) => roots
            .split(':')
            .filter(|r| !r.is_empty())
            .for_each(|r| dirs.extend(expand(r))),
        None => SEARCH_ROOTS.iter().for_each(|r| dirs.extend(expand(r))),
    }
    dirs
}

/// `/a/b*c/d` → the existing `/a/<b…c>/d`, highest version first.
fn expand(pattern: &str) -> Vec<PathBuf> {
    let Some(star) = pattern.find('*') else {
        return vec![PathBuf::from(pattern)];
    };
    let slash = pattern[..star].rfind('/').map_or(0, |i| i + 1);
    let parent = if slash == 0 { "." } else { &pattern[..slash] };
    let prefix = &pattern[slash..star];
    let (suffix, rest) = match pattern[star + 1..].find('/') {
        Some(i) => (&pattern[star + 1..star + 1 + i], &pattern[star + 2 + i..]),
        None => (&pattern[star + 1..], ""),
    };
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let middle = name.strip_prefix(prefix)?.strip_suffix(suffix)?.to_string();
            let version = middle
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            Some((version, Path::new(parent).join(&name).join(rest)))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// Every directory that holds all of `programs`, in search order.
pub fn dirs_with(dirs: &[PathBuf], programs: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if programs.iter().all(|p| executable(&d.join(p))) && !out.contains(d) {
            out.push(d.clone());
        }
    }
    out
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// How this platform installs packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    Apt,
    Dnf,
    Brew,
    Unknown,
}

impl Installer {
    /// From the OS (`macos` → Homebrew) and `/etc/os-release`'s `ID`/`ID_LIKE`.
    pub fn detect(os: &str, os_release: &str) -> Self {
        if os == "macos" {
            return Self::Brew;
        }
        let ids: Vec<&str> = os_release
            .lines()
            .filter_map(|l| l.strip_prefix("ID=").or_else(|| l.strip_prefix("ID_LIKE=")))
            .flat_map(|v| v.trim_matches('"').split_whitespace())
            .collect();
        let any = |names: &[&str]| ids.iter().any(|i| names.contains(i));
        if any(&["debian", "ubuntu"]) {
            Self::Apt
        } else if any(&["fedora", "rhel", "centos"]) {
            Self::Dnf
        } else {
            Self::Unknown
        }
    }

    pub fn here() -> Self {
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        Self::detect(std::env::consts::OS, &release)
    }

    /// The command that installs what is missing (`sudo` unless root).
    pub fn command(self, postgres: bool, redis: bool, root: bool) -> String {
        let sudo = if root { "" } else { "sudo " };
        let pick = |pg: &'static str, r: &'static str| {
            [(postgres, pg), (redis, r)]
                .iter()
                .filter(|(need, _)| *need)
                .map(|(_, name)| *name)
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Self::Apt => format!(
                "{sudo}apt-get install -y {}",
                pick("postgresql", "redis-server")
            ),
            Self::Dnf => format!(
                "{sudo}dnf install -y {}",
                pick("postgresql-server", "redis")
            ),
            Self::Brew => format!("brew install {}", pick("postgresql@16", "redis")),
            Self::Unknown => format!(
                "install {} with your package manager",
                pick("PostgreSQL (initdb, postgres)", "Redis (redis-server)")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_line_names_the_platform_and_only_what_is_missing() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n";
        let ubuntu = "ID=ubuntu\nID_LIKE=debian\n";
        let fedora = "ID=fedora\n";
        let rocky = "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n";
        assert_eq!(Installer::detect("linux", debian), Installer::Apt);
        assert_eq!(Installer::detect("linux", ubuntu), Installer::Apt);
        assert_eq!(Installer::detect("linux", fedora), Installer::Dnf);
        assert_eq!(Installer::detect("linux", rocky), Installer::Dnf);
        assert_eq!(Installer::detect("macos", ""), Installer::Brew);
        assert_eq!(
            Installer::detect("linux", "ID=alpine\n"),
            Installer::Unknown
        );
        assert_eq!(
            Installer::Apt.command(true, true, false),
            "sudo apt-get install -y postgresql redis-server"
        );
        assert_eq!(
            Installer::Apt.command(false, true, true),
            "apt-get install -y redis-server"
        );
        assert_eq!(
            Installer::Dnf.command(true, false, false),
            "sudo dnf install -y postgresql-server"
        );
        assert_eq!(
            Installer::Brew.command(true, true, false),
            "brew install postgresql@16 redis"
        );
    }

    #[test]
    fn a_root_pattern_expands_to_its_versions_newest_first() {
        let dir = std::env::temp_dir().join(format!("lifesync-bins-{}", ulid::Ulid::new()));
        for v in ["9.6", "15", "16"] {
            std::fs::create_dir_all(dir.join(v).join("bin")).unwrap();
        }
        let found = expand(&format!("{}/*/bin", dir.display()));
        assert_eq!(
            found,
            ["16", "15", "9.6"]
                .map(|v| dir.join(v).join("bin"))
                .to_vec()
        );
        let exe = dir.join("16/bin/initdb");
        std::fs::write(&exe, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(dirs_with(&found, &["initdb"]), vec![dir.join("16/bin")]);
        assert!(dirs_with(&found, &["initdb", "postgres"]).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_test_override_replaces_the_package_roots() {
        let env = |name: &str| match name {
            "PATH" => Some("/nowhere-a:/nowhere-b".to_string()),
            "LIFESYNC_DEV_SEARCH_ROOTS" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            search_dirs(&env),
            vec![PathBuf::from("/nowhere-a"), PathBuf::from("/nowhere-b")]
        );
    }
}
