//! Real processes for tests that kill them: control-plane replicas and test
//! workers, killed with SIGKILL on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::env::repo_root;

/// A binary of this workspace, from the target directory the tests run from.
pub fn workspace_bin(name: &str) -> PathBuf {
    // Test binaries live in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target dir");
    let bin = profile_dir.join(name);
    assert!(bin.exists(), "{} not built: run `cargo build --workspace --bins` first", bin.display());
    bin
}

/// A child process, killed (SIGKILL) when dropped.
pub struct Process {
    name: String,
    child: Child,
}

impl Process {
    /// Starts `bin` with `args` and extra `env`, output to
    /// `.dev/logs/tests/<name>.log`.
    pub fn start(name: &str, bin: PathBuf, args: &[String], env: &[(&str, String)]) -> Process {
        let logs = repo_root().join(".dev/logs/tests");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log = std::fs::File::create(logs.join(format!("{name}.log"))).expect("log file");
        let err = log.try_clone().expect("log file");
        let mut command = Command::new(&bin);
        command.args(args).stdin(Stdio::null()).stdout(log).stderr(err);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        Process { name: name.to_owned(), child }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_9();
    }
}
