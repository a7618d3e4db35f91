//! The servers dev starts are its children, each in a process group of its own: Ctrl-C in the
//! terminal reaches dev alone, which then stops them in order (API and workers first, their
//! servers last). Signals go by pid; waiting always has a deadline.

use std::{
    process::{Child, Command},
    time::{Duration, Instant},
};

use std::os::unix::process::CommandExt;

pub const SIGINT: i32 = libc::SIGINT;
pub const SIGTERM: i32 = libc::SIGTERM;
pub const SIGQUIT: i32 = libc::SIGQUIT;
pub const SIGKILL: i32 = libc::SIGKILL;

/// Sends `sig` to `pid`; false when there is no such process (or it is not ours to signal).
pub fn signal(pid: u32, sig: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; pid > 0 names one
    // process, never a group.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Whether a process with this pid exists (signal 0 checks without sending anything).
pub fn alive(pid: u32) -> bool {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => {
            // SAFETY: as in `signal`; signal 0 only checks.
            let sent = unsafe { libc::kill(p, 0) } == 0;
            sent || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
        }
        _ => false,
    }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and takes no arguments.
    unsafe { libc::geteuid() == 0 }
}

/// Sends `sig` to a process that is not our child (an orphan of an earlier dev) and waits up
/// to `grace` for it to be gone. True when it is gone.
pub fn stop_pid(pid: u32, sig: i32, grace: Duration) -> bool {
    signal(pid, sig);
    let deadline = Instant::now() + grace;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The name the kernel gives a running process (Linux), to check that a pid from a pid file is
/// still the server it was and not a reused number. `None` where it cannot be told.
pub fn command_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// A server dev started and must stop.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts `cmd` in a process group of its own.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Self> {
        cmd.process_group(0);
        Ok(Self {
            child: cmd.spawn()?,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited already (it is then reaped).
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `sig`, waits up to `grace`, then kills it. True when it stopped by itself.
    pub fn stop(&mut self, sig: i32, grace: Duration) -> bool {
        if self.exited() {
            return true;
        }
        signal(self.child.id(), sig);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_stops_on_its_signal_and_is_gone() {
        let mut d = Daemon::spawn(Command::new("sleep").arg("30")).unwrap();
        let pid = d.id();
        assert!(alive(pid));
        assert!(d.stop(SIGTERM, Duration::from_secs(5)));
        assert!(!alive(pid), "reaped, so no such pid");
    }

    #[test]
    fn no_such_process_is_not_alive() {
        assert!(!alive(u32::MAX));
        assert!(!signal(0, 0), "never a process group");
    }
}
