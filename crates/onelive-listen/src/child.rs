//! Child processes die with their parent.
//!
//! The recorder runs ffmpeg in its own process group (a Ctrl-C in the
//! terminal reaches only the recorder, which then stops ffmpeg cleanly).
//! Without more, a SIGKILL of the recorder leaves ffmpeg writing into a part
//! that the next start announces as finished, and a transmux child writing a
//! file nobody waits for. The kernel's parent-death signal closes that gap:
//! when the parent dies, by any signal, each child gets SIGKILL.

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getpid, getppid};

/// Makes the process `command` spawns receive SIGKILL when this process dies.
///
/// Linux delivers the signal when the *thread* that spawned the child exits;
/// spawn from threads that live as long as the program (an async runtime's
/// worker threads do; a `spawn_blocking` thread may not).
///
/// Only Linux has a parent-death signal (`prctl(PR_SET_PDEATHSIG)`); the
/// spawn fails there if the parent died between fork and exec.
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut tokio::process::Command) {
    let parent: Pid = getpid();
    // SAFETY: the closure runs in the child between fork and exec. It only
    // makes two system calls (prctl(2), getppid(2)), both async-signal-safe,
    // and builds its error from an errno without allocating.
    unsafe {
        command.pre_exec(move || {
            prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // The recorder died between fork and prctl: do not start at all.
            if getppid() != parent {
                return Err(std::io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}
