//! A private, single-member etcd for tests that stop etcd: the stack's etcd
//! is shared by every test and must stay up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use etcd_client::Client;

use crate::control_plane::free_port;
use crate::process::Process;
use crate::{TestScope, wait_for};

/// The machine's etcd (Debian's package).
const ETCD_BIN: &str = "/usr/bin/etcd";

/// An etcd process of one test, on its own ports and data directory (removed
/// on drop). It can be killed and started again on the same data and ports.
pub struct PrivateEtcd {
    name: String,
    data_dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    process: Option<Process>,
}

impl PrivateEtcd {
    /// Picks ports and a data directory for `scope`, without starting etcd.
    pub fn new(scope: &TestScope) -> PrivateEtcd {
        assert!(Path::new(ETCD_BIN).exists(), "{ETCD_BIN} missing: run scripts/install-deps");
        let data_dir = std::env::temp_dir().join(format!("hydrate-etcd-{}", scope.id()));
        PrivateEtcd {
            name: format!("{}-etcd", scope.id()),
            data_dir,
            client_port: free_port(),
            peer_port: free_port(),
            process: None,
        }
    }

    /// The client URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Starts etcd (again, after [`PrivateEtcd::kill_9`], on the same data)
    /// and waits until it answers.
    pub async fn start(&mut self) {
        assert!(self.process.is_none(), "etcd {} is already running", self.name);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let args = [
            "--name".to_owned(),
            "member".to_owned(),
            "--data-dir".to_owned(),
            self.data_dir.display().to_string(),
            "--listen-client-urls".to_owned(),
            self.endpoint(),
            "--advertise-client-urls".to_owned(),
            self.endpoint(),
            "--listen-peer-urls".to_owned(),
            peer.clone(),
            "--initial-advertise-peer-urls".to_owned(),
            peer.clone(),
            "--initial-cluster".to_owned(),
            format!("member={peer}"),
        ];
        self.process = Some(Process::start(&self.name, PathBuf::from(ETCD_BIN), &args, &[]));
        let endpoint = self.endpoint();
        wait_for("private etcd to answer", Duration::from_secs(30), || {
            let endpoint = endpoint.clone();
            async move {
                let mut client = Client::connect([endpoint], None).await.map_err(|e| e.to_string())?;
                let answered = tokio::time::timeout(Duration::from_secs(1), client.status()).await;
                Ok(matches!(answered, Ok(Ok(_))).then_some(()))
            }
        })
        .await;
    }

    /// SIGSTOP: etcd keeps its connections and ports but answers nothing,
    /// as behind a network partition.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after [`PrivateEtcd::freeze`].
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().unwrap_or_else(|| panic!("etcd {} is not running", self.name));
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(process.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} etcd {}", self.name);
    }

    /// SIGKILL, and wait until the process is gone.
    pub fn kill_9(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill_9();
        }
    }
}

impl Drop for PrivateEtcd {
    fn drop(&mut self) {
        self.kill_9();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
