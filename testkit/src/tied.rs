//! Child processes that die with the test process, however it ends.
//!
//! A test that panics, a harness killed by a timeout or a Ctrl-C never runs
//! destructors, so a server started by a test could outlive it and hold its
//! files. Linux can send a child a signal when its parent goes away
//! (`PR_SET_PDEATHSIG`), but "parent" means the *thread* that forked it:
//! a child spawned from a test's own thread would be killed as soon as
//! that test's thread ends. So every tied child is spawned from one
//! dedicated thread that lives as long as the process.

use std::io;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc;

use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getppid};

type Request = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `command` so that the kernel SIGKILLs it when this process ends.
pub fn spawn(mut command: Command) -> io::Result<Child> {
    let parent = Pid::this();
    // SAFETY: the closure runs between fork and exec and only makes two
    // system calls, both async-signal-safe; it allocates nothing. The
    // standard library runs it after any uid/gid change, which matters:
    // changing the uid clears the parent-death signal.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have ended before the line above took effect;
            // then no signal would ever come.
            if getppid() != parent {
                return Err(io::Error::other("the test process ended"));
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    spawner()
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

/// The thread every tied child is forked from; it never ends.
fn spawner() -> &'static mpsc::Sender<Request> {
    static SPAWNER: OnceLock<mpsc::Sender<Request>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("testkit-spawner".into())
            .spawn(move || {
                for (mut command, reply) in requests {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("starting the spawner thread");
        sender
    })
}
