//! Debian's nginx as the floor of one well-built hop: its own process in the foreground, with its
//! configuration, pid, logs and temp files in a temporary prefix, stopped with SIGTERM at the end.
//! `cargo xtask bench` installs it (`apt-get install nginx`) and keeps the Debian service from starting.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::procs::terminate;

pub struct Nginx {
    child: Child,
    pub base_url: String,
    pub version: String,
    pub workers: usize,
    /// Holds the prefix until nginx has stopped (dropped after `child`'s Drop ran).
    _prefix: tempfile::TempDir,
}

impl Nginx {
    /// The master's pid (its workers are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// `nginx` on PATH, else Debian's /usr/sbin/nginx.
fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
}

/// The configuration: one upstream with a keep-alive pool, HTTP/1.1 to it, no buffering either way,
/// no access log (Gatehouse writes no line per request either), and keep-alive connections that
/// are never closed for having served too many requests (the default would close them every 1,000
/// requests, on both sides).
fn config(prefix: &str, port: u16, upstream_port: u16, workers: usize) -> String {
    format!(
        r#"worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    upstream mcp_upstream {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 10000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mcp_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
"#
    )
}

/// Starts nginx in front of the upstream on `upstream_port` with `workers` worker processes.
pub fn start(upstream_port: u16, workers: usize) -> anyhow::Result<Nginx> {
    let bin = binary().context(
        "nginx is not installed: `cargo xtask bench` installs Debian's nginx package first",
    )?;
    let version = Command::new(&bin)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default();
    let prefix = tempfile::tempdir()?;
    let dir = prefix.path().to_str().context("temp dir is not UTF-8")?;
    let port = gatehouse_e2e::free_port();
    let conf = prefix.path().join("nginx.conf");
    std::fs::write(&conf, config(dir, port, upstream_port, workers))?;
    let error_log = prefix.path().join("error.log");
    let mut child = Command::new(&bin)
        .arg("-p")
        .arg(prefix.path())
        .arg("-e")
        .arg(&error_log)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        let exited = child.try_wait()?;
        if exited.is_some() || Instant::now() > deadline {
            terminate(&mut child);
            anyhow::bail!(
                "nginx did not start ({exited:?}): {}",
                std::fs::read_to_string(&error_log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Nginx {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
        version,
        workers,
        _prefix: prefix,
    })
}
